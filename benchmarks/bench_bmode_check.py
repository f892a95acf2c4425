"""False flags, caught negatives and time of quiz.ingest.bmode_check.check_bmode.

    python -m benchmarks.bench_bmode_check [--data ../shared/data] [--every 1] [--whole]

Real data: every frame of muscle-us/images and timtrack-cc0 (grayscale B-mode, some with scanner UI
around the field), checked inside the field that ingest finds (quiz.ingest.field_of_view);
--whole also checks each whole frame (no field: the UI around the scan counts). Prints the
false-flag rate per flag code, names the flagged frames and times the checks. Then about 60 of the
real frames smoothed as a scanner's speckle reduction might (how many are flagged). Negatives: the
builders of tests/quiz/ingest/test_bmode_check.py (screenshots, renders, MR/CT slices, colour
overlays planted on a real frame, tinted B-mode that must pass); prints which flags fire on each.
Then seconds per check of a 1000 x 1000 frame (grey and RGB).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import PIL.Image

from quiz.ingest.bmode_check import check_bmode
from quiz.ingest.field_of_view.detector import find_field_of_view


def _real_frames(data: Path, every: int) -> list[Path]:
    paths = sorted((data / "muscle-us" / "images").glob("*.png"))
    paths += sorted((data / "timtrack-cc0").rglob("*.png"))
    return paths[::every]


def _crop_field(frame: np.ndarray) -> np.ndarray:
    return find_field_of_view([frame]).in_frame(*frame.shape[:2])


def _false_flags(paths: list[Path], whole: bool) -> None:
    counts = {"crop box": Counter(), "whole frame": Counter()}
    flagged: dict[str, list[str]] = {"crop box": [], "whole frame": []}
    seconds = []
    for path in paths:
        frame = np.asarray(PIL.Image.open(path))
        fields = {"crop box": _crop_field(frame)}
        if whole:
            fields["whole frame"] = None
        for label, field in fields.items():
            start = time.perf_counter()
            flags = check_bmode(frame, field)
            seconds.append(time.perf_counter() - start)
            counts[label].update({flag.code for flag in flags})
            if flags:
                counts[label]["any"] += 1
                flagged[label].append(f"{path.name}: {'; '.join(flag.reason for flag in flags)}")
    for label in fields:
        rate = counts[label]["any"] / len(paths)
        detail = ", ".join(f"{code} {n}" for code, n in sorted(counts[label].items()))
        print(f"real B-mode, {label}: {counts[label]['any']} of {len(paths)} flagged ({rate:.1%})")
        if detail:
            print(f"  by code: {detail}")
        for line in flagged[label][:20]:
            print(f"  {line}")
    print(f"seconds per check: mean {np.mean(seconds):.4f}, max {max(seconds):.4f}")


def _speckle_reduction(paths: list[Path]) -> None:
    """Real frames smoothed as a scanner's speckle reduction might: how many still pass."""
    from scipy import ndimage

    smoothings = {
        "Gaussian 1 px": lambda grey: ndimage.gaussian_filter(grey, 1.0),
        "Gaussian 1.5 px": lambda grey: ndimage.gaussian_filter(grey, 1.5),
        "Gaussian 2 px": lambda grey: ndimage.gaussian_filter(grey, 2.0),
        "median 5 x 5": lambda grey: ndimage.median_filter(grey, 5),
    }
    frames = [np.asarray(PIL.Image.open(path).convert("L")) for path in paths]
    fields = [_crop_field(frame) for frame in frames]
    print(f"speckle-reduced real frames ({len(frames)}, crop box), flagged not-ultrasound:")
    for name, smooth in smoothings.items():
        flagged = sum(
            any(flag.code == "not-ultrasound" for flag in check_bmode(smooth(frame), field))
            for frame, field in zip(frames, fields, strict=True)
        )
        print(f"  {name}: {flagged} of {len(frames)}")


def _negatives(data: Path) -> None:
    from tests.quiz.ingest import test_bmode_check as cases

    real = np.asarray(PIL.Image.open(sorted((data / "timtrack-cc0").rglob("*.png"))[0]))
    real = real if real.ndim == 2 else np.asarray(PIL.Image.fromarray(real).convert("L"))
    mr, mr_modality = cases.dicom_pixels("MR_small.dcm")
    ct, ct_modality = cases.dicom_pixels("CT_small.dcm")
    negatives = {
        "MR_small.dcm (64 px, with its Modality)": (mr, mr_modality),
        "CT_small.dcm (128 px, with its Modality)": (ct, ct_modality),
        "MR slice upscaled to 512, no Modality": (cases.upscaled(mr, 512), None),
        "CT slice upscaled to 512, no Modality": (cases.upscaled(ct, 512), None),
        "application window": (cases.application_window(), None),
        "application window, dark theme": (cases.dark_theme(cases.application_window()), None),
        "four-pane viewer": (cases.four_pane_viewer(), None),
        "shaded 3-D render": (cases.sphere_render(), None),
        "line chart": (cases.line_chart(), None),
        "colour Doppler on a real frame": (cases.doppler_overlay(real)[0], None),
        "power Doppler on a real frame": (cases.doppler_overlay(real, power=True)[0], None),
        "elastography on a real frame": (cases.elastography_overlay(real), None),
        "colour calipers on a real frame": (cases.colour_annotations(real), None),
        "sepia B-mode, JPEG q75 (must pass)": (
            cases.jpeg_round_trip(cases.tinted(real, "sepia")),
            None,
        ),
        "blue B-mode, JPEG q75 (must pass)": (
            cases.jpeg_round_trip(cases.tinted(real, "blue")),
            None,
        ),
        "real frame, JPEG q40 (must pass)": (cases.jpeg_round_trip(real, 40), None),
        "simulated speckle (must pass)": (cases.speckle_bmode(), None),
    }
    print("negatives (whole frame as the field):")
    for name, (frame, modality) in negatives.items():
        flags = check_bmode(frame, modality=modality)
        print(f"  {name}: {', '.join(sorted(f.code for f in flags)) or 'no flag'}")
        for flag in flags:
            print(f"      {flag.code}: {flag.reason}")


def _timing(repeats: int) -> None:
    from tests.quiz.ingest.test_bmode_check import doppler_overlay, speckle_bmode

    grey = speckle_bmode(1000, 1000)
    for label, frame in (("grey", grey), ("RGB with Doppler", doppler_overlay(grey)[0])):
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            check_bmode(frame)
            seconds.append(time.perf_counter() - start)
        print(f"1000 x 1000 {label}: median {np.median(seconds):.3f} s, max {max(seconds):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("..") / "shared" / "data")
    parser.add_argument("--every", type=int, default=1, help="check every n-th real frame")
    parser.add_argument("--whole", action="store_true", help="also check each whole real frame")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    paths = _real_frames(args.data, args.every)
    if not paths:
        raise SystemExit(f"no real frames under {args.data}")
    start = time.perf_counter()
    _false_flags(paths, args.whole)
    print(f"({time.perf_counter() - start:.0f} s with the crop)")
    _speckle_reduction(paths[:: max(1, len(paths) // 60)])
    _negatives(args.data)
    _timing(args.repeats)


if __name__ == "__main__":
    main()
