"""Field-of-view crop against the hand-annotated fixture: the new detector and the old heuristic.

    python -m benchmarks.bench_crop [--groups muscle-us phantom ...] [--budget 2.0]

For every case of benchmarks/crop_fixture (real images from ../shared/data, skipped with a
message where absent; pydicom's ultrasound test files; phantom screens from their seed) runs
quiz.field_of_view.find_field_of_view and, as the baseline, quiz.ingest.crop_to_field_of_view
(its box taken as a rectangular field). Prints per group and overall: IoU of the detected field
with the annotation (mean, 10th percentile), the share of crops with IoU >= 0.9, the share that
keep an annotated UI pixel (inside the detected field and not reported as overlay), and seconds
per image (median, max), and the share of crops whose overlay claims tissue (more than
OVERLAY_SLACK pixels away from annotated UI; real images annotate only UI near the field and
the DICOMs' colour scales, so there it is an upper bound). Then times the 1024x1024
staircase image. Run it on one core with `taskset -c 0 python -m benchmarks.bench_crop` for the
per-core figure.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict

import numpy as np
from scipy import ndimage

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

import django  # noqa: E402

django.setup()

from benchmarks.crop_fixture import Case, load_cases  # noqa: E402
from quiz.field_of_view import Rejected, find_field_of_view  # noqa: E402
from quiz.ingest import crop_to_field_of_view  # noqa: E402
from tests.phantoms import staircase  # noqa: E402

# Overlay pixels off the annotated UI that are tolerated (anti-aliasing, a glyph's halo).
OVERLAY_SLACK = 50


def _gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    return np.round(frame[..., :3] @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def detected_new(case: Case, budget: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(field, overlay) frame-sized, and seconds."""
    size = case.frames[0].shape[:2]
    field, overlay = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
    started = time.perf_counter()
    try:
        fov = find_field_of_view(case.frames, budget_s=budget)
    except Rejected:
        return field, overlay, time.perf_counter() - started
    seconds = time.perf_counter() - started
    left, top, right, bottom = fov.box
    field[top:bottom, left:right] = True if fov.mask is None else fov.mask
    if fov.overlay is not None:
        overlay[top:bottom, left:right] = fov.overlay
    return field, overlay, seconds


def detected_old(case: Case) -> tuple[np.ndarray, np.ndarray, float]:
    size = case.frames[0].shape[:2]
    gray = _gray(case.frames[0])
    started = time.perf_counter()
    _, (left, top, right, bottom) = crop_to_field_of_view(gray)
    seconds = time.perf_counter() - started
    field = np.zeros(size, dtype=bool)
    field[top:bottom, left:right] = True
    return field, np.zeros(size, dtype=bool), seconds


def score(case: Case, field: np.ndarray, overlay: np.ndarray) -> tuple[float, bool, bool]:
    """IoU, whether annotated UI is left in the field (not reported as overlay), and whether the
    overlay claims tissue: over OVERLAY_SLACK pixels farther than 2 px from annotated UI."""
    union = np.count_nonzero(field | case.field)
    iou = np.count_nonzero(field & case.field) / union if union else 0.0
    near_ui = ndimage.binary_dilation(case.ui, iterations=2)
    on_tissue = np.count_nonzero(overlay & ~near_ui) > OVERLAY_SLACK
    return iou, bool((case.ui & field & ~overlay).any()), on_tissue


def summary(label: str, rows: list[tuple[float, bool, bool, float]]) -> str:
    iou = np.array([r[0] for r in rows])
    ui = np.array([r[1] for r in rows])
    on_tissue = np.array([r[2] for r in rows])
    seconds = np.array([r[3] for r in rows])
    good = (iou >= 0.9) & ~ui
    return (
        f"  {label:<24} n={len(rows):3d}  IoU mean {iou.mean():.3f}"
        f"  p10 {np.percentile(iou, 10):.3f}"
        f"  IoU>=0.9 {np.mean(iou >= 0.9):6.1%}  UI kept {ui.mean():6.1%}"
        f"  good (IoU>=0.9, no UI) {good.mean():6.1%}  overlay on tissue {on_tissue.mean():6.1%}"
        f"  s/image median {np.median(seconds):.3f} max {seconds.max():.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="*", help="only these groups (default: all)")
    parser.add_argument("--budget", type=float, default=2.0, help="time budget per image, s")
    parser.add_argument("--worst", type=int, default=8, help="list the N worst new crops")
    args = parser.parse_args()
    results: dict[str, dict[str, list]] = {"new": defaultdict(list), "old": defaultdict(list)}
    names: list[tuple[float, str, str]] = []
    for case in load_cases(groups=set(args.groups) if args.groups else None):
        if isinstance(case, str):
            print(case)
            continue
        for method in ("new", "old"):
            if method == "new":
                field, overlay, seconds = detected_new(case, args.budget)
            else:
                field, overlay, seconds = detected_old(case)
            iou, ui, on_tissue = score(case, field, overlay)
            results[method][case.group].append((iou, ui, on_tissue, seconds))
            if method == "new":
                names.append((iou, case.name, "UI kept" if ui else ""))
    for method, title in (
        ("old", "OLD quiz.ingest.crop_to_field_of_view"),
        ("new", "NEW find_field_of_view"),
    ):
        print(title)
        everything = []
        for group, rows in sorted(results[method].items()):
            print(summary(group, rows))
            everything += rows
        if everything:
            print(summary("all", everything))
    print(f"worst {args.worst} new crops, then every other new crop that keeps UI:")
    ranked = sorted(names)
    for iou, name, note in ranked[: args.worst] + [r for r in ranked[args.worst :] if r[2]]:
        print(f"  IoU {iou:.3f} {note:8} {name}")
    stairs = staircase()
    started = time.perf_counter()
    try:
        fov = find_field_of_view([stairs], budget_s=args.budget)
        outcome = f"{fov.shape} box {fov.box} note {fov.note!r}"
    except Rejected as rejected:
        outcome = f"rejected: {rejected}"
    print(f"staircase 1024x1024: {time.perf_counter() - started:.3f} s, {outcome}")


if __name__ == "__main__":
    main()
