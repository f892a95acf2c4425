"""Reproduce the fitted ranges of ganengine.masks.MaskParams from the real muscle-us masks.

    python -m benchmarks.fit_mask_ranges [--masks ../shared/data/muscle-us/masks]

(Same as `python -m ganengine masks --fit DIR`.) Prints each range next to the shipped default
and the number of measurements behind it; about 30 s on one CPU core.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ganengine.masks import MaskParams, fit_mask_params

MASKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "muscle-us" / "masks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--masks", type=Path, default=MASKS, help="has aponeurosis/, fascicle/")
    args = parser.parse_args()
    fitted, counts = fit_mask_params(args.masks / "aponeurosis", args.masks / "fascicle")
    shipped = MaskParams()
    print(f"{counts['aponeurosis_masks']} aponeurosis, {counts['fascicle_masks']} fascicle masks")
    for field in dataclasses.fields(MaskParams):
        new, old = getattr(fitted, field.name), getattr(shipped, field.name)
        mark = "" if new == old else "   (shipped differs)"
        print(f"{field.name:22s} {new!s:22s} n={counts[field.name]:<5d}{mark}")


if __name__ == "__main__":
    main()
