"""The reconciliation function's Lambda layer: DuckDB, for the runtime of this interpreter.

Only the reconciliation function imports DuckDB (about 60 MB unpacked), so it is not in
requirements.txt, which chalice packages into every function's zip: it is built here into a
layer (infra/resources.json ReconLayer) that only that function gets. The wheels are chosen by
chalice's own dependency builder, with the rules it applies to the function package: the ABI
of the runtime chalice deploys (the interpreter running this, as for `chalice package`), the
glibc of that runtime's Amazon Linux, the function's architecture.

    .venv/bin/python -m tools.recon_layer out/package/recon-layer.zip
"""
import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements-recon.txt"


def runtime() -> str:
    """The Lambda runtime chalice gives the functions when run by this interpreter."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def build(target: Path, requirements: Path = REQUIREMENTS, architecture: str = "x86_64") -> Path:
    """Writes the layer's zip to `target` (packages under python/, which Lambda puts on
    sys.path) and returns it. Fails naming the packages that have no wheel for the runtime."""
    from chalice.deploy.packager import DependencyBuilder, MissingDependencyError
    from chalice.utils import OSUtils

    abi = f"cp{sys.version_info.major}{sys.version_info.minor}"
    with tempfile.TemporaryDirectory() as work:
        site_packages = Path(work) / "python"
        try:
            DependencyBuilder(OSUtils(), architecture=architecture).build_site_packages(
                abi, str(requirements), str(site_packages))
        except MissingDependencyError as missing:
            names = ", ".join(sorted(p.identifier for p in missing.missing))
            raise SystemExit(f"no {runtime()} ({architecture}) wheel for: {names}") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as layer:
            for path in sorted(site_packages.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    layer.write(path, path.relative_to(work).as_posix())
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path)
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    args = parser.parse_args(argv)
    built = build(args.target, args.requirements)
    print(f"{built}: {built.stat().st_size / 2**20:.1f} MB, for {runtime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

