"""Checks the parameter overrides of `make deploy` against the stack's resource template.

    .venv/bin/python -m tools.deploy infra/resources.json ChannelUrl=https://channel.example

Every parameter of the template without a Default must be given as Key=Value, and every
Key=Value must name a parameter of the template (a misspelt key would otherwise be dropped by
CloudFormation without a word).
Exits non-zero naming what is missing or unknown.
"""
import json
import sys
from pathlib import Path


def required_parameters(template: dict) -> list:
    return sorted(name for name, spec in template.get("Parameters", {}).items() if "Default" not in spec)


def check(template: dict, overrides: list) -> list:
    """The problems of `overrides` (Key=Value strings) for `template`; empty when none."""
    parameters = template.get("Parameters", {})
    given, problems = {}, []
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key:
            problems.append(f"{override!r} is not Key=Value")
        elif key not in parameters:
            problems.append(f"{key} is no parameter of the template (it has: {', '.join(sorted(parameters))})")
        else:
            given[key] = value
    for name in required_parameters(template):
        if name not in given:
            description = parameters[name].get("Description", "")
            problems.append(f"{name} has no default: pass PARAMS=\"{name}=...\" ({description})")
    return problems


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    template = json.loads(Path(args[0]).read_text())
    overrides = [a for a in args[1:] if a]
    problems = check(template, overrides)
    for problem in problems:
        print(f"make deploy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
