"""Study and panel logic: which images a round shows, how a panel is served, and the leak audit.

The rule this module keeps: nothing but pixels may tell a real panel from a synthetic one. Every
panel goes through the same decode → render_panel → encode_png path, is addressed by a random
per-round token, and is served with identical headers.
"""

import random
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from quiz.imaging import decode_png, encode_png, render_panel
from quiz.models import PANEL_LETTERS, Image, ImageKind, Participant, Round, RoundPanel, Study

# The share of real panels in a round is drawn afresh each round from this range (as a fraction
# of the panels), so a participant cannot infer the last answers from a known ratio.
MIN_REAL_SHARE = 0.2
MAX_REAL_SHARE = 0.8


class StudyNotReady(Exception):
    """The study lacks the images a round needs."""


def real_count_range(panels: int, real_available: int, synthetic_available: int) -> range:
    """The numbers of real panels a round may hold, given the study's pools."""
    low = max(1, round(panels * MIN_REAL_SHARE), panels - synthetic_available)
    high = min(panels - 1, round(panels * MAX_REAL_SHARE), real_available)
    if low > high:
        raise StudyNotReady(
            f"a round of {panels} panels needs at least {panels - high} synthetic and "
            f"{low} real images; the study has {synthetic_available} synthetic and "
            f"{real_available} real"
        )
    return range(low, high + 1)


def _pick(pool: list[int], count: int, seen: set[int], rng: random.Random) -> list[int]:
    """Prefer images this participant has not seen yet; fall back to seen ones when needed."""
    fresh = [pk for pk in pool if pk not in seen]
    stale = [pk for pk in pool if pk in seen]
    rng.shuffle(fresh)
    rng.shuffle(stale)
    return (fresh + stale)[:count]


def panel_size_for(images: list[Image]) -> int:
    """The largest panel size that never upsamples a synthetic image (real ones are downsampled)."""
    synthetic_sides = [min(i.width, i.height) for i in images if i.kind == ImageKind.SYNTHETIC]
    sides = synthetic_sides or [min(i.width, i.height) for i in images]
    return min(sides, default=256)


def open_round(participant: Participant, rng: random.Random | None = None) -> Round:
    """The participant's unanswered round, or a new one."""
    existing = participant.rounds.filter(submitted_at__isnull=True).first()
    if existing:
        return existing
    rng = rng or random.SystemRandom()
    study = participant.study
    panels = study.panels_per_round
    real = list(study.images.filter(kind=ImageKind.REAL).values_list("pk", flat=True))
    synthetic = list(study.images.filter(kind=ImageKind.SYNTHETIC).values_list("pk", flat=True))
    n_real = rng.choice(real_count_range(panels, len(real), len(synthetic)))
    seen = set(
        RoundPanel.objects.filter(round__participant=participant).values_list("image_id", flat=True)
    )
    chosen = _pick(real, n_real, seen, rng) + _pick(synthetic, panels - n_real, seen, rng)
    rng.shuffle(chosen)
    with transaction.atomic():
        new_round = Round.objects.create(participant=participant, index=participant.rounds.count())
        RoundPanel.objects.bulk_create(
            RoundPanel(round=new_round, letter=letter, image_id=image_id)
            for letter, image_id in zip(PANEL_LETTERS, chosen, strict=False)
        )
    return new_round


def panel_png(image: Image, size: int) -> bytes:
    """The bytes served for an image at a study's panel size (cached: panels repeat)."""
    key = f"panel:{image.pk}:{size}"
    data = cache.get(key)
    if data is None:
        with image.file.open("rb") as handle:
            data = encode_png(render_panel(decode_png(handle.read()), size))
        cache.set(key, data, timeout=3600)
    return data


@dataclass(frozen=True)
class AuditResult:
    problems: list[str]
    real: int
    synthetic: int

    @property
    def passed(self) -> bool:
        return not self.problems


def audit_study(study: Study) -> AuditResult:
    """Check, before publishing, that rounds can be built and no panel leaks its kind."""
    problems: list[str] = []
    images = list(study.images.all())
    real = sum(image.kind == ImageKind.REAL for image in images)
    synthetic = len(images) - real
    try:
        real_count_range(study.panels_per_round, real, synthetic)
    except StudyNotReady as exc:
        problems.append(f"Not enough images: {exc}.")
    if study.panels_per_round > len(PANEL_LETTERS):
        problems.append(f"At most {len(PANEL_LETTERS)} panels per round.")

    signatures: dict[tuple, list[str]] = {}
    for image in images:
        try:
            data = panel_png(image, study.panel_size)
        except Exception as exc:  # a broken file must be named, not crash the audit
            problems.append(f"Image #{image.pk} cannot be rendered: {exc}.")
            continue
        signatures.setdefault(_png_signature(data), []).append(f"#{image.pk} ({image.kind})")
    if len(signatures) > 1:
        kinds = "; ".join(f"{sig}: {', '.join(names[:5])}" for sig, names in signatures.items())
        problems.append(f"Panels differ in format or chunks, which could leak their kind: {kinds}.")
    return AuditResult(problems=problems, real=real, synthetic=synthetic)


def _png_signature(data: bytes) -> tuple:
    """Everything about a PNG file except its pixel data: header fields and chunk types."""
    chunks = []
    offset = 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        chunk_type = data[offset + 4 : offset + 8].decode("latin-1")
        if chunk_type == "IHDR":
            chunks.append((chunk_type, data[offset + 8 : offset + 8 + length].hex()))
        elif chunk_type != "IDAT" or not chunks or chunks[-1] != "IDAT":
            chunks.append(chunk_type)
        offset += 12 + length
    return (data[:8].hex(), *chunks)
