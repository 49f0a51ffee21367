"""Per-function unzipped size of a synthesized ``cdk.out`` against Lambda's limits (``make synth``).

A zip function counts its code asset plus every layer it uses against Lambda's 250 MiB unzipped
limit; the build fails when any function keeps less than ``MIN_HEADROOM`` of it, so a minor bump of
a dependency fails here, with the table, long before it fails a deploy. A container-image function
is bound by the 10 GiB image limit instead (its dependencies are installed by the Dockerfile at
deploy time): its row shows the task root installed as the Dockerfile installs it
(``infra.artefacts.image_root``, cached in the temp directory), the base image not counted.

    python -m infra.sizes cdk.out
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.artefacts import function_name, image_root
from infra.config import LAMBDA_UNZIPPED_LIMIT_MB
from infra.layer import dir_size_mib

IMAGE_LIMIT_MIB = 10 * 1024
MIN_HEADROOM = 0.25  # of the limit, for every function


@dataclass(frozen=True)
class FunctionSize:
    name: str  # "submit", or the logical id of a CDK helper function
    package: str  # "zip" or "image"
    code_mib: float
    layers_mib: float

    @property
    def limit_mib(self) -> float:
        return float(LAMBDA_UNZIPPED_LIMIT_MB if self.package == "zip" else IMAGE_LIMIT_MIB)

    @property
    def total_mib(self) -> float:
        return self.code_mib + self.layers_mib

    @property
    def headroom(self) -> float:
        return 1 - self.total_mib / self.limit_mib


def function_sizes(cdk_out: Path, stack: str = "FaceSvg") -> list[FunctionSize]:
    """Every function of the stack with an asset on disk (ours and CDK's helpers)."""
    resources: dict[str, Any] = json.loads((cdk_out / f"{stack}.template.json").read_text())["Resources"]

    def asset(logical_id: str) -> Path | None:
        path = resources.get(logical_id, {}).get("Metadata", {}).get("aws:asset:path")
        return cdk_out / path if path else None

    image_mib: float | None = None
    sizes = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        code = asset(logical_id)
        if code is None:  # inline code: a few KiB
            continue
        refs = [ref["Ref"] for ref in props.get("Layers", []) if isinstance(ref, dict) and "Ref" in ref]
        layers = [asset(ref) for ref in refs]
        package = "image" if props.get("PackageType") == "Image" else "zip"
        if package == "image":
            if image_mib is None:
                image_mib = dir_size_mib(image_root())
            sizes.append(FunctionSize(function_name(logical_id, props), package, image_mib, 0.0))
            continue
        sizes.append(
            FunctionSize(
                name=function_name(logical_id, props),
                package=package,
                code_mib=dir_size_mib(code),
                layers_mib=sum(dir_size_mib(layer) for layer in layers if layer is not None),
            )
        )
    return sorted(sizes, key=lambda s: (s.package, s.name))


def report(sizes: list[FunctionSize]) -> tuple[list[str], list[FunctionSize]]:
    """The table's lines and the functions below ``MIN_HEADROOM``."""
    lines = [
        f"{'function':<34} {'package':<7} {'code':>9} {'layers':>9} {'total':>9} {'limit':>10} "
        f"{'headroom':>9}"
    ]
    for s in sizes:
        lines.append(
            f"{s.name[:34]:<34} {s.package:<7} {s.code_mib:>9.1f} {s.layers_mib:>9.1f} {s.total_mib:>9.1f} "
            f"{s.limit_mib:>7.0f} MiB {s.headroom:>8.0%}"
        )
    failing = [s for s in sizes if s.headroom < MIN_HEADROOM]
    return lines, failing


def main(argv: list[str]) -> int:
    sizes = function_sizes(Path(argv[0] if argv else "cdk.out"))
    lines, failing = report(sizes)
    print("unzipped size per function, MiB (image rows: the task root the Dockerfile installs)")
    print("\n".join(lines))
    for s in failing:
        print(
            f"{s.name}: {s.total_mib:.1f} MiB leaves {s.headroom:.0%} of the {s.limit_mib:.0f} MiB limit, "
            f"below the {MIN_HEADROOM:.0%} kept for dependency updates",
            file=sys.stderr,
        )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
