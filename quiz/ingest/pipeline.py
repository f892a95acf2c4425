"""Ingest of real images: validate, decode, find the imaging field of view, store canonical PNGs.

The pipeline (`ingest_files`) takes `(name, bytes or binary file)` pairs — uploads, the files of a
folder (`quiz.ingest.sources.iter_folder`) or the stored files of an upload (`ingest_upload`) —
and yields one `IngestedImage`, `Rejection` or `Skipped` per image (or frame) it finds, after the
`Note`s on its file. Bad input never raises out of it: each bad file becomes a rejection with a
short reason, and the rest go on. What is read, and how archives, links and oversized files are
handled, is `quiz.ingest.sources` (shared with the import of a generator's images); names are only
text, for the report and `Image.source_name`. `docs/ingest.md` describes every step and its
figures.

The steps, each in its own module of quiz.ingest: `decoding` turns a file's bytes into frames
(DICOM with its LUTs, colour spaces and compressed syntaxes, 16-bit windowing, multi-frame
files); `field_of_view` finds the imaging field (rectangle, steered parallelogram or sector) and
leaves the scanner's screen around it; `bmode_check` flags what is not grayscale B-mode (colour
Doppler, other modalities, screenshots). Which steps a dataset's files go through, and whether
they are stored in colour, is its image profile (`profiles`): the field and the B-mode check are
the ultrasound profile's; the generic profile keeps each image whole, as a viewer shows it.

`ingest_into_dataset` stores what the pipeline yields as `Image(kind="real")` rows, each in its own
transaction, skipping (and naming) images the dataset already holds, exactly or nearly
(`near_duplicates`), then redraws the dataset's train / held-out split (`Dataset.apply_split`).
Staff review the crops afterwards (`crop_review`).
"""

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from quiz.imaging import canonical_channels, encode_png, pixel_sha256
from quiz.ingest.bmode_check import Flag, check_bmode, check_screen
from quiz.ingest.crop_review import crop_counts
from quiz.ingest.crops import MIN_SIDE, delete_image_files, set_crop
from quiz.ingest.decoding import DecodedFile, Rejected, decode_file
from quiz.ingest.field_of_view.detector import FieldOfView, find_field_of_view
from quiz.ingest.near_duplicates import NEAR_DUPLICATE_DISTANCE, SignatureIndex, signature
from quiz.ingest.profiles import ULTRASOUND, Profile, profile_of
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
from quiz.models import Dataset, Image, ImageKind, IngestJob

# Panels and training show the largest rectangle of the field clear of scanner graphics; an
# image whose marks leave less than this share of its field for that is flagged for review.
MIN_PANEL_SHARE = 0.5


@dataclass(frozen=True)
class IngestOptions:
    # Frames kept from a cine loop, evenly spaced (Dataset.frames_per_file).
    frames_per_file: int = 8
    # Seconds the field-of-view search may take per file before it falls back or gives up.
    crop_budget_s: float = 2.0
    profile: Profile = ULTRASOUND

    @classmethod
    def for_dataset(cls, dataset: Dataset) -> "IngestOptions":
        return cls(
            dataset.frames_per_file, settings.INGEST_CROP_BUDGET_SECONDS, profile_of(dataset)
        )


@dataclass(frozen=True)
class IngestedImage:
    source_name: str
    # uint8 H x W or H x W x 3: the decoded frame before the crop, in colour when it has colour
    source: np.ndarray
    # uint8, grey or colour as the profile stores it: the field's bounding box, black outside it
    pixels: np.ndarray
    field: FieldOfView
    flags: list[Flag]
    source_key: str  # the SHA-256 of a multi-frame file, shared by its frames; else ""
    source_format: str = ""  # the file's format (DecodedFile.format)

    @property
    def panel_box(self) -> tuple[int, int, int, int] | None:
        """Where panels and training look, in `pixels`; None for all of it."""
        height, width = self.pixels.shape[:2]
        inscribed = self.field.inscribed
        return None if inscribed == (0, 0, width, height) else inscribed

    def panel_pixels(self) -> np.ndarray:
        """What its panels will show (Image.panel_pixels)."""
        left, top, right, bottom = self.field.inscribed
        return self.pixels[top:bottom, left:right]


Item = IngestedImage | Rejection | Skipped | Note


def ingest_files(
    files: Iterable[tuple[str, Source]], options: IngestOptions | None = None
) -> Iterator[Item]:
    """One IngestedImage, Rejection or Skipped per image found in `files`; never raises."""
    options = options or IngestOptions()

    def read_file(name: str, data: bytes) -> Iterator[IngestedImage | Note]:
        decoded = decode_file(
            data, max_frames=options.frames_per_file, displayed=options.profile.as_displayed
        )
        return _field_images(name, data, decoded, options)

    return read_sources(files, read_file)


def _field_images(
    name: str, data: bytes, decoded: DecodedFile, options: IngestOptions
) -> Iterator[IngestedImage | Note]:
    """Crop each frame of one file to the field of view, found once from all its frames (the
    whole frame where the profile finds no field).

    A cine loop's frames share one screen layout; finding the field from all of them lets the
    detector tell the static screen from moving tissue.
    """
    profile = options.profile
    height, width = decoded.frames[0].shape[:2]
    if min(height, width) < MIN_SIDE:
        raise Rejected(
            f"too small ({width}x{height} pixels; at least {MIN_SIDE} on each side needed)"
        )
    if profile.finds_field:
        field = find_field_of_view(decoded.frames, budget_s=options.crop_budget_s)
    else:
        whole = (0, 0, width, height)
        field = FieldOfView(whole, None, "whole", whole, None, "")
    left, top, right, bottom = field.box
    inscribed = field.inscribed
    if min(inscribed[2] - inscribed[0], inscribed[3] - inscribed[1]) < MIN_SIDE:
        raise Rejected(
            f"imaging area too small after removing the scanner screen "
            f"({right - left}x{bottom - top} pixels)"
        )
    several = len(decoded.frames) > 1
    key = hashlib.sha256(data).hexdigest() if several else ""
    colour_note = profile.colour_note(decoded.frames[0], decoded.conversions)
    for note in decoded.notes + [text for text in (field.note, colour_note) if text]:
        yield Note(name, note)
    # Where the B-mode check looks: the field, less the scanner's marks over it.
    judged = field.in_frame(height, width)
    if field.overlay is not None:
        judged[top:bottom, left:right] &= ~field.overlay
    for index, frame in enumerate(decoded.frames):
        pixels = profile.stored_pixels(frame)[top:bottom, left:right].copy()
        if field.mask is not None:
            pixels[~field.mask] = 0
        yield IngestedImage(
            source_name=f"{name} [frame {index + 1} of {len(decoded.frames)}]" if several else name,
            source=canonical_channels(frame),
            pixels=pixels,
            field=field,
            flags=_flags(frame, field, judged, decoded.modality) if profile.finds_field else [],
            source_key=key,
            source_format=decoded.format,
        )


def _flags(
    frame: np.ndarray, field: FieldOfView, judged: np.ndarray, modality: str | None
) -> list[Flag]:
    """Why the frame is not plain B-mode. `judged`: the field less the scanner's marks over it,
    which are flagged here as overlay, not as colour in the scan."""
    flags = check_bmode(frame, judged, modality=modality)
    if not any(flag.code == "not-ultrasound" for flag in flags):
        flags += check_screen(frame, judged)
    if field.overlay is not None and field.overlay.any():
        x0, y0, x1, y1 = field.inscribed
        inside_panel = int(field.overlay[y0:y1, x0:x1].sum())
        kept = (x1 - x0) * (y1 - y0) / (judged.sum() or 1)
        if inside_panel:
            reason = f"{inside_panel} pixels of them are left where panels look"
        elif kept < MIN_PANEL_SHARE:
            reason = f"the largest rectangle clear of them holds only {kept:.0%} of the field"
        else:
            return flags
        flags.append(
            Flag(
                "overlay-in-field",
                f"scanner graphics over the field (calipers, markers or text): {reason}",
            )
        )
    return flags


# Storage -----------------------------------------------------------------------------------------


def ingest_into_dataset(
    dataset: Dataset,
    files: Iterable[tuple[str, Source]],
    *,
    limit: int | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Store the images found in `files` as real Images of `dataset` (at most `limit` new ones).

    The dataset's train / held-out split is drawn afresh afterwards, also when the ingest stops
    on an unexpected error, so that every stored image belongs to one part; `report` (when
    given) then holds what was done until the error.
    """
    report = report if report is not None else IngestReport()
    index = SignatureIndex(
        dataset.images.filter(kind=ImageKind.REAL).values_list("source_name", "signature")
    )
    items = ingest_files(files, IngestOptions.for_dataset(dataset))
    try:
        for item in items:
            if isinstance(item, Rejection):
                report.rejections.append(entry(item.source_name, item.reason))
                continue
            if isinstance(item, Skipped):
                report.skipped.append(entry(item.source_name, item.reason))
                continue
            if isinstance(item, Note):
                report.notes.append(entry(item.source_name, item.reason))
                continue
            twin = _store(dataset, item, index)
            if twin:
                report.duplicates += 1
                report.skipped.append(entry(item.source_name, twin))
                continue
            report.imported += 1
            report.flagged += [entry(item.source_name, flag.reason) for flag in item.flags]
            if report.imported == limit:
                break
    finally:
        items.close()  # closes the file the pipeline is reading when the limit stops it early
        dataset.apply_split()
    report.crops = crop_counts(dataset)
    return report


def _store(dataset: Dataset, ingested: IngestedImage, index: SignatureIndex) -> str:
    """Save one image in its own transaction; "" when stored, else why it is a duplicate."""
    sha256 = pixel_sha256(ingested.pixels)
    twin = (
        Image.objects.filter(dataset=dataset, kind=ImageKind.REAL, sha256=sha256)
        .values_list("source_name", flat=True)
        .first()
    )
    if twin is not None:
        return f"duplicate of {twin or 'an image already in the dataset'}"
    near = index.near_duplicate(signature(ingested.panel_pixels()))
    if near is not None:
        return (
            f"near-duplicate of {near.name} (distance {near.distance:.3f}; at most "
            f"{NEAR_DUPLICATE_DISTANCE} counts as the same scan)"
        )
    image = Image(
        kind=ImageKind.REAL,
        dataset=dataset,
        source_name=ingested.source_name[:500],
        source_key=ingested.source_key,
        source_format=ingested.source_format,
        flags=[{"code": flag.code, "reason": flag.reason} for flag in ingested.flags],
        source_file=ContentFile(encode_png(ingested.source), name="x.png"),
        source_sha256=pixel_sha256(ingested.source),
        source_width=ingested.source.shape[1],
        source_height=ingested.source.shape[0],
    )
    set_crop(
        image,
        ingested.pixels,
        ingested.field.box,
        mask=ingested.field.mask,
        shape=ingested.field.shape,
        panel_box=ingested.panel_box,
    )
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        # The same pixels arrived through a concurrent upload between the check and the insert.
        delete_image_files(image)
        return "duplicate of an image stored by a concurrent upload"
    index.add(image.source_name, image.signature)
    return ""


def ingest_upload(job: IngestJob, lease: Lease) -> None:
    """Ingest an upload's stored files into its dataset and record the outcome on the job.

    `job.uploads` names each file twice: where it is stored (under `job.upload_dir`) and the name
    it was uploaded under, which the report and the images' source names use. The files are
    deleted once ingested; after an unexpected error they stay for a retry. An attempt that starts
    again after a lost worker finds the images it already stored as duplicates.
    """
    report = IngestReport()
    present, missing = split_missing(job.uploads)
    try:
        ingest_into_dataset(job.dataset, stored_files(present, lease.heartbeat), report=report)
    except SoftTimeLimitExceeded:
        record_report(lease, report)
        raise stopped_at_time_limit(
            report, "ingest", "quiz.tasks.ingest_upload", "INGEST_TIME_LIMIT"
        ) from None
    report.rejections += missing
    record_report(lease, report)
    delete_uploads(job.uploads)
    if job.uploads and not report.imported and not report.duplicates:
        raise JobFailed(
            f"Nothing could be imported: {plural(len(report.rejections), 'file')} rejected."
        )
