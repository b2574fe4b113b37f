"""Writes template.yaml for `sam local` over an image from `docker build` instead of `sam build`.

`sam build` builds the image without host networking, which a build that fetches packages through a
loopback wheel server needs (see scripts/container-test.sh). So the image is built with
`docker build --network host` and this writes a copy of template.yaml whose image functions name it
in ``ImageUri`` (and have no build ``Metadata``), for `sam local invoke` and `sam local start-api`.

SAM's ``--env-vars`` only overrides variables a function declares; ``--declare NAME`` declares more
(with the value the template's Globals give, else empty).

Usage: .venv/bin/python scripts/local_template.py IMAGE [OUT] [--declare NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def local_template(source: Path, image: str, out: Path, declare: Iterable[str] = ()) -> None:
    """Writes ``source`` to ``out`` with ``ImageUri: image`` on every image function."""
    from samcli.yamlhelper import yaml_dump, yaml_parse

    template = yaml_parse(source.read_text(encoding="utf-8"))
    global_vars = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        if props.get("PackageType", "Zip") != "Image":
            continue
        props["ImageUri"] = image
        # Without Metadata SAM does not look for a Dockerfile to build.
        resource.pop("Metadata", None)
        variables = props.setdefault("Environment", {}).setdefault("Variables", {})
        for name in declare:
            variables.setdefault(name, global_vars.get(name, ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml_dump(template), encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="the tag docker build gave the image")
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / ".aws-sam" / "local.yaml")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--declare", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    local_template(args.template, args.image, args.out, args.declare)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
