"""Field-of-view crop against the hand-annotated fixture, and what the panels keep of the field.

    python -m benchmarks.bench_crop [--groups muscle-us phantom ...] [--budget 2.0] [--all]
                                    [--baseline 252739c]

For every case of benchmarks/crop_fixture (real images from ../shared/data, skipped with a message
where absent; pydicom's ultrasound test files; phantom screens from their seed) runs
quiz.ingest.field_of_view.detector.find_field_of_view. Prints per group and overall: IoU of the
detected field with the annotation (mean, 10th percentile), the share of crops with IoU >= 0.9, the
share that keep an annotated UI pixel (inside the detected field and not reported as overlay), the
share whose panel region (`inscribed`) holds an annotated UI pixel, seconds per image (median,
max), the share of crops whose overlay claims tissue (more than OVERLAY_SLACK pixels away from
annotated UI; real images annotate only UI near the field and the DICOMs' colour scales, so there
it is an upper bound), and how much of the detected field `inscribed` keeps (median, 10th
percentile): an overlay that claims tissue shrinks it. Then times the 1024x1024 staircase image.
With --all, the same inscribed share (and the share of the field called overlay) over every image
of ../shared/data/muscle-us and ../shared/data/timtrack-cc0, per data set: the guard against
over-detection where nothing is annotated. With --baseline REV, the rectangle crop that ingest used
at git revision REV (`crop_to_field_of_view` in that revision's quiz/ingest/pipeline.py, before
quiz.ingest.field_of_view existed) is scored the same way in the same run, as the "before". Run it
on one core with `taskset -c 0 python -m benchmarks.bench_crop` for the per-core figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
from scipy import ndimage

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

import django  # noqa: E402

django.setup()

from benchmarks.crop_fixture import DATA_ROOT, Case, load_cases  # noqa: E402
from quiz.ingest.decoding import Rejected  # noqa: E402
from quiz.ingest.field_of_view.detector import FieldOfView, find_field_of_view  # noqa: E402
from tests.phantoms import staircase  # noqa: E402

# Overlay pixels off the annotated UI that are tolerated (anti-aliasing, a glyph's halo).
OVERLAY_SLACK = 50
# The data sets that --all runs over (every image under each, recursively).
ALL_SETS = ("muscle-us/images", "timtrack-cc0/dataset_1", "timtrack-cc0/dataset_2")


@dataclass(frozen=True)
class Detected:
    field: np.ndarray  # bool, frame-sized
    overlay: np.ndarray  # bool, frame-sized
    panel: np.ndarray  # bool, frame-sized: the `inscribed` rectangle
    seconds: float


def _in_frame(fov: FieldOfView | None, size: tuple[int, int], seconds: float) -> Detected:
    field, overlay, panel = (np.zeros(size, dtype=bool) for _ in range(3))
    if fov is not None:
        left, top, right, bottom = fov.box
        field[top:bottom, left:right] = True if fov.mask is None else fov.mask
        if fov.overlay is not None:
            overlay[top:bottom, left:right] = fov.overlay
        x0, y0, x1, y1 = fov.inscribed
        panel[top + y0 : top + y1, left + x0 : left + x1] = True
    return Detected(field, overlay, panel, seconds)


def detect(frames: list[np.ndarray], budget: float) -> Detected:
    """The detector's field, overlay and panel region, frame-sized, and its seconds."""
    started = time.perf_counter()
    try:
        fov = find_field_of_view(frames, budget_s=budget)
    except Rejected:
        fov = None
    return _in_frame(fov, frames[0].shape[:2], time.perf_counter() - started)


def inscribed_share(found: Detected) -> float:
    """How much of the detected field the panel region keeps (0 when nothing was found)."""
    area = np.count_nonzero(found.field)
    return np.count_nonzero(found.panel & found.field) / area if area else 0.0


def score(case: Case, found: Detected) -> dict[str, float]:
    """IoU; whether annotated UI is left in the field (not reported as overlay) and whether it
    reaches the panel region; whether the overlay claims tissue (over OVERLAY_SLACK pixels
    farther than 2 px from annotated UI); the inscribed share; seconds."""
    union = np.count_nonzero(found.field | case.field)
    iou = np.count_nonzero(found.field & case.field) / union if union else 0.0
    near_ui = ndimage.binary_dilation(case.ui, iterations=2)
    return {
        "iou": iou,
        "ui": bool((case.ui & found.field & ~found.overlay).any()),
        "ui_panel": bool((case.ui & found.panel).any()),
        "on_tissue": np.count_nonzero(found.overlay & ~near_ui) > OVERLAY_SLACK,
        "share": inscribed_share(found),
        "seconds": found.seconds,
    }


def summary(label: str, rows: list[dict[str, float]]) -> str:
    column = {key: np.array([r[key] for r in rows]) for key in rows[0]}
    iou, ui, share, seconds = column["iou"], column["ui"], column["share"], column["seconds"]
    good = (iou >= 0.9) & ~ui
    return (
        f"  {label:<24} n={len(rows):3d}  IoU mean {iou.mean():.3f}"
        f"  p10 {np.percentile(iou, 10):.3f}"
        f"  IoU>=0.9 {np.mean(iou >= 0.9):6.1%}  UI kept {ui.mean():6.1%}"
        f"  UI in panel {column['ui_panel'].mean():6.1%}"
        f"  good (IoU>=0.9, no UI) {good.mean():6.1%}"
        f"  overlay on tissue {column['on_tissue'].mean():6.1%}"
        f"  inscribed share median {np.median(share):.3f} p10 {np.percentile(share, 10):.3f}"
        f"  s/image median {np.median(seconds):.3f} max {seconds.max():.3f}"
    )


def whole_data(budget: float) -> None:
    """Inscribed and overlay share of the field over every image of each data set."""
    print("inscribed share of the detected field over whole data sets (--all):")
    for name in ALL_SETS:
        folder = DATA_ROOT / name
        paths = sorted(folder.rglob("*.png")) if folder.exists() else []
        if not paths:
            print(f"  skipped {name}: not found under {DATA_ROOT}")
            continue
        shares, overlays, seconds = [], [], []
        for path in paths:
            with PIL.Image.open(path) as image:
                frame = np.asarray(image.convert("RGB" if image.mode == "RGB" else "L"))
            found = detect([frame], budget)
            shares.append(inscribed_share(found))
            area = np.count_nonzero(found.field)
            overlays.append(np.count_nonzero(found.overlay) / area if area else 0.0)
            seconds.append(found.seconds)
        shares, overlays = np.array(shares), np.array(overlays)
        print(
            f"  {name:<24} n={len(paths):3d}  inscribed share median {np.median(shares):.3f}"
            f"  p10 {np.percentile(shares, 10):.3f}  min {shares.min():.3f}"
            f"  overlay share of field median {np.median(overlays):.4f}"
            f"  p90 {np.percentile(overlays, 90):.4f}  max {overlays.max():.4f}"
            f"  with any overlay {np.mean(overlays > 0):6.1%}"
            f"  s/image median {np.median(seconds):.3f} max {max(seconds):.3f}"
        )


def baseline_detector(revision: str) -> Callable[[list[np.ndarray]], Detected]:
    """The old rectangle crop of `revision`, as a detector: its box is the field and the panel."""
    source = subprocess.run(
        ["git", "show", f"{revision}:quiz/ingest/pipeline.py"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "# Field of view ---" not in source:
        raise SystemExit(f"{revision}:quiz/ingest/pipeline.py has no crop_to_field_of_view section")
    section = source[source.index("# Field of view ---") : source.index("# Storage ---")]
    namespace: dict = {}
    header = "import math\nimport numpy as np\nimport PIL.Image\nfrom PIL import ImageFilter\n"
    exec(header + section, namespace)  # the old module's own code, as it ran then
    crop = namespace["crop_to_field_of_view"]

    def detect_old(frames: list[np.ndarray]) -> Detected:
        frame = frames[0]
        gray = frame if frame.ndim == 2 else np.asarray(PIL.Image.fromarray(frame).convert("L"))
        started = time.perf_counter()
        _, (left, top, right, bottom) = crop(gray)
        seconds = time.perf_counter() - started
        field = np.zeros(gray.shape, dtype=bool)
        field[top:bottom, left:right] = True
        return Detected(field, np.zeros_like(field), field.copy(), seconds)

    return detect_old


def _report(label: str, results: dict[str, list]) -> None:
    print(label)
    everything = []
    for group, rows in sorted(results.items()):
        print(summary(group, rows))
        everything += rows
    if everything:
        print(summary("all", everything))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="*", help="only these groups (default: all)")
    parser.add_argument("--budget", type=float, default=2.0, help="time budget per image, s")
    parser.add_argument("--worst", type=int, default=8, help="list the N worst crops")
    parser.add_argument("--all", action="store_true", help="also run over whole data sets")
    parser.add_argument("--baseline", metavar="REV", help="also score ingest's crop at REV")
    args = parser.parse_args()
    old = baseline_detector(args.baseline) if args.baseline else None
    results: dict[str, list] = defaultdict(list)
    baseline: dict[str, list] = defaultdict(list)
    names: list[tuple[float, str, str]] = []
    for case in load_cases(groups=set(args.groups) if args.groups else None):
        if isinstance(case, str):
            print(case)
            continue
        row = score(case, detect(case.frames, args.budget))
        results[case.group].append(row)
        names.append((row["iou"], case.name, "UI kept" if row["ui"] else ""))
        if old is not None:
            baseline[case.group].append(score(case, old(case.frames)))
    if old is not None:
        _report(f"before: the crop of {args.baseline} on the fixture", baseline)
    _report("find_field_of_view on the fixture", results)
    print(f"worst {args.worst} crops, then every other crop that keeps UI:")
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
    if args.all:
        whole_data(args.budget)


if __name__ == "__main__":
    main()
