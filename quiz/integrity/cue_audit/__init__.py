"""The low-level cue audit at publish: could a participant tell the classes apart by something
other than realism, such as blur, noise, brightness or JPEG blocks?

For every trial image of the study it computes interpretable features (features.py) twice: on
the native square a panel is rendered from, and on the panel as served. A cross-validated
classifier (separability.py) gives the AUC with a 95% interval, for all features and for each
alone. Then it decides where a cue comes from:

- From the study's own rendering, which refuses publishing: an image that would be enlarged; the
  classes at different native sizes, so that rendering resamples one class and not the other,
  where the served panels then differ (a difference that cannot be told from the resampling's;
  a generator trained here on panels of the study's size is exempt: its training images were
  resampled exactly as the real panels are); source formats that differ between the classes
  where JPEG's blocks still separate them on the served panels.
- From the generator's pixels (sharpness, noise, colour, ... differing at equal size): the
  generator's own failing. Publishing goes on, and the cue is shown at publish and in the report,
  with an example pair of images, under "what gives it away".
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from quiz.imaging import RGB, render_panel
from quiz.integrity.cue_audit.features import (
    BLOCKINESS,
    COLOUR_FEATURES,
    FEATURES,
    NATIVE_SIDE,
    Feature,
    image_features,
)
from quiz.integrity.cue_audit.separability import Separation, separation
from quiz.models import LOSSY_FORMATS, Image, ImageKind, Study
from quiz.studies.panels import native_side, study_modes, study_sizing
from quiz.studies.rules import test_pools

# A feature alone is named as a cue above this AUC, when its interval also excludes chance.
CUE_AUC = 0.6


def cue_audit(study: Study) -> dict:
    """The study's low-level cue report (the LeakAudit report's `low_level_cues`).

    Its `rendering_cues` are reasons to refuse publishing; its `cues` are the generator's own,
    most telling first, each with an example pair.
    """
    sizing = study_sizing(study)
    pools = test_pools(study)
    ids = pools[ImageKind.REAL] + pools[ImageKind.SYNTHETIC]
    images = list(Image.objects.filter(pk__in=ids).select_related("training_run").order_by("pk"))
    # Upsampling is refused for every image the study shows, practice and catch too.
    rendering = [
        f"Image #{pk} is {side} px natively but panels are {sizing.size} px: it would be "
        "enlarged, and enlargement blurs one image and not the others."
        for pk, side in sizing.upsampled
    ]
    report: dict = {
        "panel_size": sizing.size,
        "sizing": sizing.note,
        "images": {
            "real": len(pools[ImageKind.REAL]),
            "synthetic": len(pools[ImageKind.SYNTHETIC]),
        },
        # Mixed modes are refused (or acknowledged) by the publish rules (rules.mode_problems).
        "modes": study_modes(study).counts() or None,
        "rendering_cues": rendering,
        "cues": [],
        "notes": [],
        "features": [],
        "auc": None,
        "ci95": None,
    }
    y = np.array([int(image.kind == ImageKind.REAL) for image in images])
    if min(y.sum(), len(y) - y.sum()) < 2:
        report["notes"].append("too few images of a class (two of each needed) to measure cues")
        return report
    formats = {
        name: dict(Counter(i.source_format or "unknown" for i in images if i.kind == kind))
        for name, kind in (("real", ImageKind.REAL), ("synthetic", ImageKind.SYNTHETIC))
    }
    report["source_formats"] = formats
    with_jpeg = any(image.source_format in LOSSY_FORMATS for image in images)
    with_colour = any(image.channels == RGB for image in images)
    features = [
        *FEATURES,
        *([BLOCKINESS] if with_jpeg else []),
        *(COLOUR_FEATURES if with_colour else []),
    ]
    native, served = _feature_rows(images, sizing.size, with_jpeg, with_colour)
    sides = np.array([native_side(image) for image in images], dtype=float)
    report["native_sides"] = {
        kind: [int(sides[y == value].min()), int(sides[y == value].max())]
        for kind, value in (("real", 1), ("synthetic", 0))
    }
    overall = separation(served, y)
    native_overall = separation(np.column_stack([sides, native]), y)
    report["native_auc"] = native_overall.as_dict() if native_overall else None
    if overall:
        report.update(overall.as_dict())

    # Each feature alone, with intervals that hold together over all of them (Bonferroni).
    tests = len(features) + 1
    report["feature_intervals"] = f"simultaneous 95% over {tests} features (Bonferroni)"
    size_cue = separation(sides, y, tests)
    # Native size is the same before and after rendering: one AUC for both.
    report["features"].append(_entry(NATIVE_SIDE, size_cue, size_cue, sides, y, images))
    for column, feature in enumerate(features):
        native_cue = separation(native[:, column], y, tests)
        served_cue = separation(served[:, column], y, tests)
        report["features"].append(
            _entry(feature, native_cue, served_cue, served[:, column], y, images)
        )
    by_name = {entry["name"]: entry for entry in report["features"]}

    real, synthetic = report["native_sides"]["real"], report["native_sides"]["synthetic"]
    if _separates(size_cue) and not _trained_here_at(images, sizing.size):
        if _separates(overall):
            rendering.append(
                f"Real images are {_span(real)} natively and synthetic images {_span(synthetic)}"
                f", and their served panels differ (AUC {overall.auc:.2f}): shown at "
                f"{sizing.size} px, one class is resampled and the other is not, so a difference "
                "cannot be told from one the resampling made (area-averaging smooths speckle "
                "and noise). Use real and synthetic images of the same native size (for a "
                "generator trained elsewhere, real images resampled to its size as its training "
                "images were)."
            )
        else:
            report["notes"].append(
                f"Real images are {_span(real)} natively and synthetic images {_span(synthetic)}"
                f"; shown at {sizing.size} px, their low-level features do not separate them."
            )
    mixed_formats = _lossy_share(formats["real"]) != _lossy_share(formats["synthetic"])
    if with_jpeg and mixed_formats:
        blocks = by_name["blockiness"]["served"]
        if _separates_entry(blocks):
            rendering.append(
                f"Source formats differ between the classes (real: {_formats(formats['real'])}; "
                f"synthetic: {_formats(formats['synthetic'])}) and JPEG's 8 px blocks still "
                f"separate them on the served panels (AUC {blocks['auc']:.2f}): use one format "
                "for both classes."
            )
        else:
            report["notes"].append(
                f"Source formats differ between the classes (real: {_formats(formats['real'])}; "
                f"synthetic: {_formats(formats['synthetic'])}), but JPEG blockiness does not "
                "separate the served panels."
            )
    generator_cues = [
        entry
        for entry in report["features"]
        if entry["name"] != NATIVE_SIDE.name and _separates_entry(entry["served"])
    ]
    report["cues"] = sorted(generator_cues, key=lambda entry: -entry["served"]["auc"])
    report["most_telling"] = report["cues"][0]["name"] if report["cues"] else None
    return report


def _feature_rows(
    images: list[Image], size: int, with_jpeg: bool, with_colour: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each image's features on its native square and on its served panel (rows in image order)."""
    native, served = [], []
    options = {"with_blockiness": with_jpeg, "with_colour": with_colour}
    for image in images:
        pixels = image.panel_pixels()
        square = render_panel(pixels, min(pixels.shape[:2]))  # the centre square, not resampled
        native.append(list(image_features(square, **options).values()))
        served.append(list(image_features(render_panel(pixels, size), **options).values()))
    return np.array(native, dtype=float), np.array(served, dtype=float)


def _entry(
    feature: Feature,
    native: Separation | None,
    served: Separation | None,
    values: np.ndarray,
    y: np.ndarray,
    images: list[Image],
) -> dict:
    """One feature's line of the report: its AUC native and served, the classes' medians, and an
    example pair (the real and the synthetic image nearest their class's median)."""
    entry: dict = {
        "name": feature.name,
        "label": feature.label,
        "unit": feature.unit,
        "native": native.as_dict() if native else None,
        "served": served.as_dict() if served else None,
    }
    if served is None:
        return entry
    example = {}
    for kind, value in (("real", 1), ("synthetic", 0)):
        rows = np.flatnonzero((y == value) & np.isfinite(values))
        if not rows.size:
            return entry
        median = float(np.median(values[rows]))
        nearest = rows[np.argmin(np.abs(values[rows] - median))]
        entry[f"{kind}_median"] = _round(median)
        example[kind] = {"image": images[nearest].pk, "value": _round(values[nearest])}
    entry["example"] = example
    return entry


def _separates(cue: Separation | None) -> bool:
    return cue is not None and cue.auc >= CUE_AUC and cue.ci95[0] > 0.5


def _separates_entry(cue: dict | None) -> bool:
    return cue is not None and cue["auc"] >= CUE_AUC and cue["ci95"][0] > 0.5


def _trained_here_at(images: list[Image], size: int) -> bool:
    """Every synthetic image was made by a run here that trained on panels of this size.

    Its training images were rendered by the same render_panel to `size`, so the real panels,
    resampled to it, are what it learned from: the resampling is the protocol, not a cue.
    """
    synthetic = [image for image in images if image.kind == ImageKind.SYNTHETIC]
    return all(
        image.training_run is not None and image.training_run.config.get("resolution") == size
        for image in synthetic
    )


def _lossy_share(formats: dict[str, int]) -> float:
    known = {name: count for name, count in formats.items() if name != "unknown"}
    total = sum(known.values())
    return sum(c for name, c in known.items() if name in LOSSY_FORMATS) / total if total else 0.0


def _formats(formats: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(formats.items()))


def _span(sides: list[int]) -> str:
    low, high = sides
    return f"{low} px" if low == high else f"{low}–{high} px"


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def describe_cues(cues: dict | None, *, rendering: bool = True) -> list[str]:
    """The cue report as lines of text: for the command line, the admin and logs (without the
    rendering cues where they are listed among the audit's problems already)."""
    if not cues:
        return []
    lines = [f"Panels: {cues['sizing']}."]
    if cues.get("auc") is not None:
        low, high = cues["ci95"]
        lines.append(
            f"Low-level cue audit: {cues['images']['real']} real and "
            f"{cues['images']['synthetic']} synthetic images; the features of the served "
            f"panels separate them with AUC {cues['auc']:.2f} (95% CI {low:.2f}–{high:.2f})."
        )
    if rendering:
        lines += [f"Rendering cue (refuses publishing): {cue}" for cue in cues["rendering_cues"]]
    for entry in cues.get("cues", []):
        lines.append("What gives it away: " + cue_sentence(entry))
    lines += cues.get("notes", [])
    return lines


def cue_sentence(entry: dict) -> str:
    served = entry["served"]
    low, high = served["ci95"]
    unit = f" {entry['unit']}" if entry.get("unit") else ""
    real, synthetic = entry["example"]["real"], entry["example"]["synthetic"]
    return (
        f"{entry['label']} separates the classes on the served panels, AUC {served['auc']:.2f} "
        f"(simultaneous 95% CI {low:.2f}–{high:.2f}); median real {entry['real_median']:g}{unit}, "
        f"synthetic {entry['synthetic_median']:g}{unit}; for example real image #{real['image']} "
        f"({real['value']:g}) and synthetic image #{synthetic['image']} ({synthetic['value']:g})."
    )
