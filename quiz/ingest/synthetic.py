"""Import of a generator's images made elsewhere: the same input rules as real ingest, no crop.

A generator trained outside this site brings its images as files or ZIP archives, optionally
with their label masks and its training manifest. They are read by the same rules as real
images (`quiz.ingest.sources`: archives, links, sizes, bombs; `quiz.ingest.decoding`: formats,
bit depths, frames), and each bad file is named in the report with its reason. There is no
field-of-view crop and no B-mode check: a generator already outputs the field, and a study's
low-level cue audit judges its pixels. Each image is stored as every image is (the one PNG
encoding of `quiz.imaging`: colour kept, an RGB file with equal channels stored grey), as
`Image(kind="synthetic", generator=...)`; the report names each file kept in colour.

Skipped and named: an image the generator already holds (by pixels, or nearly: the near-duplicate
rule of real ingest, `near_duplicates`). Rejected and named: an image with the pixels of a real
image held here (a scan is not a generator's output), and one under `MIN_SIDE` pixels a side.

Masks pair with images by file name without folder or extension (`out/0001.png` with
`masks/0001.png` or `0001.tif`). A mask must be one grey frame of its image's size. The report
names every image imported without a mask (when masks were given), every mask with no image, and
every bad mask. The manifest is resolved by `quiz.ingest.manifest` into the generator's record.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from quiz.imaging import RGB, canonical_channels, channels_of, encode_png, pixel_sha256
from quiz.ingest.crops import MIN_SIDE
from quiz.ingest.decoding import DecodedFile, Rejected, decode_file
from quiz.ingest.manifest import MAX_MANIFEST_BYTES, parse_manifest, resolve_manifest
from quiz.ingest.near_duplicates import NEAR_DUPLICATE_DISTANCE, SignatureIndex, signature
from quiz.ingest.report import (
    IngestReport,
    entry,
    plural,
    record_report,
    split_missing,
    stopped_at_time_limit,
)
from quiz.ingest.sources import Note, Rejection, Skipped, Source, read_sources
from quiz.ingest.uploads import delete_uploads, stored_files
from quiz.jobs import JobFailed, Lease
from quiz.models import Generator, GeneratorImport, Image, ImageKind

# A generator's batch may come as one multi-page TIFF or animation; each page is an image, up to
# this many (and decoding's pixel limit per file).
MAX_FRAMES_PER_FILE = 1000


@dataclass(frozen=True)
class SyntheticImage:
    source_name: str
    pixels: np.ndarray  # uint8 H x W (grey) or H x W x 3 (colour)
    mask_key: str  # the name its mask has; "" for a frame of a multi-frame file (no mask)
    source_format: str  # the file's format (DecodedFile.format): the cue audit compares them


@dataclass(frozen=True)
class _Mask:
    name: str
    png: bytes
    shape: tuple[int, int]


@dataclass
class _Masks:
    """The masks of one import by the name they pair on, and which of them found their image."""

    by_key: dict[str, _Mask] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # keys of images met, stored or not
    used: set[str] = field(default_factory=set)  # keys whose mask was stored or named already


def mask_key(name: str) -> str:
    """What an image and its mask share: the file name without folder or extension."""
    return PurePosixPath(name).stem


def synthetic_files(files: Iterable[tuple[str, Source]]) -> Iterator:
    """One SyntheticImage, Rejection, Skipped or Note per image or remark; never raises."""
    return read_sources(files, _read_image)


def _read_image(name: str, data: bytes) -> Iterator[SyntheticImage | Note]:
    decoded = decode_file(data, max_frames=MAX_FRAMES_PER_FILE)
    _check_side(decoded)
    for note in decoded.notes:
        yield Note(name, note)
    if channels_of(decoded.frames[0]) == RGB:
        yield Note(name, "kept in colour")
    several = len(decoded.frames) > 1
    for index, frame in enumerate(decoded.frames):
        yield SyntheticImage(
            source_name=f"{name} [frame {index + 1} of {len(decoded.frames)}]" if several else name,
            pixels=canonical_channels(frame),
            mask_key="" if several else mask_key(name),
            source_format=decoded.format,
        )


def _check_side(decoded: DecodedFile) -> None:
    height, width = decoded.frames[0].shape[:2]
    if min(height, width) < MIN_SIDE:
        raise Rejected(
            f"too small ({width}x{height} pixels; at least {MIN_SIDE} on each side needed)"
        )


def _read_mask(name: str, data: bytes) -> Iterator[_Mask]:
    decoded = decode_file(data, max_frames=1)
    if decoded.total_frames > 1:
        raise Rejected(f"a mask is one frame; this file has {decoded.total_frames}")
    frame = decoded.frames[0]
    if frame.ndim == 3:
        raise Rejected("a mask is grey (a label map), not colour")
    yield _Mask(name, encode_png(frame), frame.shape)


def read_masks(files: Iterable[tuple[str, Source]], report: IngestReport) -> _Masks:
    """The masks by the name they pair on; bad masks and clashing names go in the report."""
    masks = _Masks()
    for item in read_sources(files, _read_mask):
        if isinstance(item, Rejection):
            report.rejections.append(entry(_as_mask(item.source_name), item.reason))
        elif isinstance(item, Skipped):
            report.skipped.append(entry(_as_mask(item.source_name), item.reason))
        else:
            key = mask_key(item.name)
            first = masks.by_key.get(key)
            if first is None:
                masks.by_key[key] = item
            else:
                report.skipped.append(
                    entry(
                        _as_mask(item.name),
                        f"not used: masks pair with images by file name, and {first.name} "
                        "came first under this name",
                    )
                )
    return masks


def _as_mask(name: str) -> str:
    return f"{name} (mask)"


def import_into_generator(
    generator: Generator,
    files: Iterable[tuple[str, Source]],
    *,
    masks: Iterable[tuple[str, Source]] | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Store the images found in `files` as the generator's synthetic images, with their masks."""
    report = report if report is not None else IngestReport()
    paired = read_masks(masks, report) if masks is not None else None
    index = SignatureIndex(generator.images.values_list("source_name", "signature"))
    real = _real_hashes()
    items = synthetic_files(files)
    try:
        for item in items:
            if isinstance(item, Rejection):
                report.rejections.append(entry(item.source_name, item.reason))
            elif isinstance(item, Skipped):
                report.skipped.append(entry(item.source_name, item.reason))
            elif isinstance(item, Note):
                report.notes.append(entry(item.source_name, item.reason))
            else:
                _import_one(generator, item, paired, index, real, report)
    finally:
        items.close()  # the file being read when an error stops the import
    if paired is not None:
        _name_unused_masks(paired, report)
    return report


def _import_one(
    generator: Generator,
    item: SyntheticImage,
    masks: _Masks | None,
    index: SignatureIndex,
    real: dict[str, str],
    report: IngestReport,
) -> None:
    sha256 = pixel_sha256(item.pixels)
    if sha256 in real:
        report.rejections.append(
            entry(
                item.source_name,
                f"has the pixels of {real[sha256]}: a scan is not a generator's output",
            )
        )
        return
    if masks is not None and item.mask_key:
        masks.seen.add(item.mask_key)
    twin = _duplicate(generator, item, sha256, index)
    if twin:
        report.duplicates += 1
        report.skipped.append(entry(item.source_name, twin))
        return
    mask, why = _mask_for(item, masks)
    image = Image(
        kind=ImageKind.SYNTHETIC,
        generator=generator,
        source_name=item.source_name[:500],
        source_format=item.source_format,
        width=item.pixels.shape[1],
        height=item.pixels.shape[0],
        channels=channels_of(item.pixels),
        sha256=sha256,
        signature=signature(item.pixels),
        file=ContentFile(encode_png(item.pixels), name="x.png"),
        mask=ContentFile(mask.png, name="x.png") if mask is not None else "",
    )
    with transaction.atomic():
        image.save()
    index.add(image.source_name, image.signature)
    report.imported += 1
    if why:
        report.notes.append(entry(item.source_name, why))


def _duplicate(
    generator: Generator, item: SyntheticImage, sha256: str, index: SignatureIndex
) -> str:
    """Why the image is one the generator already holds; "" when it is new."""
    twin = generator.images.filter(sha256=sha256).values_list("source_name", flat=True).first()
    if twin is not None:
        return f"duplicate of {twin or 'an image the generator already holds'}"
    near = index.near_duplicate(signature(item.pixels))
    if near is not None:
        return (
            f"near-duplicate of {near.name} (distance {near.distance:.3f}; at most "
            f"{NEAR_DUPLICATE_DISTANCE} counts as the same image)"
        )
    return ""


def _mask_for(item: SyntheticImage, masks: _Masks | None) -> tuple[_Mask | None, str]:
    """The image's mask, or None and why it has none (a note for the report; "" if no masks)."""
    if masks is None:
        return None, ""
    if not item.mask_key:
        return None, "imported without a mask: masks pair with single images, not frames"
    mask = masks.by_key.get(item.mask_key)
    if mask is None:
        return None, f"imported without a mask: no mask is named {item.mask_key}"
    if item.mask_key in masks.used:
        return None, f"imported without a mask: {mask.name} went to an earlier image of this name"
    masks.used.add(item.mask_key)
    if mask.shape != item.pixels.shape[:2]:
        return None, (
            f"imported without a mask: {mask.name} is {mask.shape[1]}x{mask.shape[0]}, the image "
            f"{item.pixels.shape[1]}x{item.pixels.shape[0]}"
        )
    return mask, ""


def _name_unused_masks(masks: _Masks, report: IngestReport) -> None:
    for key, mask in masks.by_key.items():
        if key in masks.used:
            continue
        if key in masks.seen:
            why = "not used: its image was not stored (a duplicate, or rejected: see above)"
        else:
            why = "not used: no image of this import is named like it"
        report.skipped.append(entry(_as_mask(mask.name), why))


def _real_hashes() -> dict[str, str]:
    """Every real image's canonical and source-frame pixel hash, naming the image."""
    rows = Image.objects.filter(kind=ImageKind.REAL).values_list(
        "pk", "source_name", "sha256", "source_sha256", "dataset__name"
    )
    real = {}
    for pk, source_name, sha256, source_sha256, dataset in rows:
        named = f"real image #{pk} ({source_name or 'no file name'}) of dataset “{dataset}”"
        real[sha256] = named
        if source_sha256:
            real[source_sha256] = named
    return real


def apply_manifest(generator: Generator, name: str, data: bytes, report: IngestReport) -> bool:
    """Resolve the manifest into the generator's record; False (and named) when it is unusable.

    A manifest replaces the generator's record: uploading a corrected one corrects it.
    """
    try:
        entries = parse_manifest(data)
    except Rejected as rejected:
        report.rejections.append(entry(name, f"training manifest not used: {rejected}"))
        return False
    resolved = resolve_manifest(name, entries, generator.trained_on)
    Generator.objects.filter(pk=generator.pk).update(manifest_hashes=resolved.hashes)
    generator.manifest_hashes = resolved.hashes
    report.skipped += resolved.skipped
    report.notes += resolved.notes
    return True


def read_manifest(file: BinaryIO) -> bytes:
    """A manifest's bytes, one over the limit at most, so that parse_manifest can refuse it."""
    return file.read(MAX_MANIFEST_BYTES + 1)


def import_synthetic(
    job: GeneratorImport,
    lease: Lease,
    *,
    files: Iterable[tuple[str, Source]] | None = None,
    masks: Iterable[tuple[str, Source]] | None = None,
    manifest: tuple[str, bytes] | None = None,
) -> None:
    """The work of a GeneratorImport: its uploads, or what a command hands it, into its generator.

    An upload's files are read from storage (`job.uploads`, `mask_uploads`, `manifest_upload`)
    and deleted once imported; after an unexpected error they stay for a retry, which finds the
    images already stored as duplicates. `manage.py import_synthetic` passes `files`, `masks` and
    `manifest` from the disk instead. The job fails when nothing at all could be taken.
    """
    generator = job.generator
    if not generator.is_external:
        raise JobFailed(
            f"“{generator}” is a run trained here: its images come from its checkpoints, not "
            "from an import."
        )
    report = IngestReport()
    uploaded = files is None and masks is None and manifest is None
    if uploaded:
        present, report.rejections = split_missing(job.all_uploads)
        files = stored_files([u for u in job.uploads if u in present], lease.heartbeat)
        if job.mask_uploads:
            masks = stored_files([u for u in job.mask_uploads if u in present], lease.heartbeat)
        for upload in [u for u in job.manifest_upload if u in present]:
            with default_storage.open(upload["stored"], "rb") as handle:
                manifest = (upload["name"], read_manifest(handle))
    manifest_used = False
    try:
        if manifest is not None:
            manifest_used = apply_manifest(generator, *manifest, report)
        import_into_generator(generator, files or [], masks=masks, report=report)
    except SoftTimeLimitExceeded:
        record_report(lease, report)
        raise stopped_at_time_limit(
            report, "import", "quiz.tasks.import_synthetic", "INGEST_TIME_LIMIT"
        ) from None
    record_report(lease, report)
    if uploaded:
        delete_uploads(job.all_uploads)
    if not (report.imported or report.duplicates or manifest_used):
        raise JobFailed(
            f"Nothing could be imported: {plural(len(report.rejections), 'file')} rejected."
        )
