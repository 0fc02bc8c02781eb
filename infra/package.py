"""`make package`: both deployables' Lambda packages and CloudFormation templates.

    <out>/center/deployment.zip, sam.json     the payment center (app.py, chalicelib/)
    <out>/merchant/deployment.zip, sam.json   the merchant system (merchant_system/)

Each is `chalice package --merge-template` of its own project with its own template, so
each becomes its own stack. The merchant system's stack takes the center's EndpointURL and
ReconBucketName outputs as its PaymentApiUrl and ReconBucketName parameters: deploy the
center first, then the merchant system, one pass each.
"""
import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parent.parent
CHALICE = Path(sys.executable).with_name("chalice")
CENTER, MERCHANT = "center", "merchant"
# Each deployable: its Chalice project folder and its merge template (relative to the folder).
PROJECTS = {CENTER: (ROOT, "infra/resources.json"),
            MERCHANT: (ROOT / "merchant_system", "resources.json")}


def package(out: Path, stage: str = "dev") -> Dict[str, Path]:
    """Package both deployables under `out` (emptied first); their folders by name."""
    out = Path(out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    written = {}
    for name, (project, template) in PROJECTS.items():
        target = out / name
        run = subprocess.run([str(CHALICE), "package", "--stage", stage, "--merge-template",
                              template, str(target)], cwd=project, env=env,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"chalice package of the {name} failed: "
                               f"{run.stderr.strip() or run.stdout.strip()}")
        written[name] = target
    return written


def main() -> int:
    parser = argparse.ArgumentParser(prog="make package", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default="dev", choices=("dev", "prod"))
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "out" / "package")
    args = parser.parse_args()
    for name, folder in package(args.out, args.stage).items():
        print(f"{name}: {folder / 'deployment.zip'}, CloudFormation template {folder / 'sam.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
