"""Ingest of real images: validate, decode, crop to the imaging field of view, store canonical PNGs.

The pipeline (`ingest_files`) takes `(name, bytes or binary file)` pairs — uploads, the files of a
folder (`iter_folder`) or the stored files of an upload (`ingest_upload`) — and yields one
`IngestedImage` or `Rejection` per image it finds. Bad input never raises out of it: each bad file
becomes a rejection with a short reason, and the rest go on.

Accepted: PNG, JPEG, TIFF, BMP (first frame of a multi-page TIFF), DICOM with pixel data this
machine can decode (the first frame of a multi-frame file), and ZIP archives of those (an archive
inside an archive is unpacked once; directories, `__MACOSX/` and dotfiles are skipped silently).
Everything becomes 8-bit grayscale: colour by luminance, 16-bit by its actual range.

`ingest_into_dataset` stores what the pipeline yields as `Image(kind="real")` rows, each in its own
transaction, skipping images whose pixels the dataset already holds, then redraws the dataset's
train / held-out split (`Dataset.apply_split`).
"""

import io
import logging
import math
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import PIL.Image
import pydicom
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import ImageFilter

from quiz.imaging import encode_png, pixel_sha256
from quiz.jobs import JobFailed, Lease
from quiz.models import Dataset, Image, ImageKind, IngestJob

log = logging.getLogger(__name__)

Source = bytes | BinaryIO

IMAGE_FORMATS = {"PNG", "JPEG", "TIFF", "BMP"}
MIN_SIDE = 32
# Far above any ultrasound frame; Pillow's own bomb check (MAX_IMAGE_PIXELS) is also enforced.
MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE_BYTES = 4 * 1024 * 1024 * 1024
# Image files barely compress in a zip; a member that shrinks this much is a bomb, not a scan.
MAX_COMPRESSION_RATIO = 100
_RATIO_CHECK_FROM_BYTES = 1024 * 1024
_READ_CHUNK = 1024 * 1024

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EMPTY_ARCHIVE = "empty archive, no images inside"


@dataclass(frozen=True)
class IngestedImage:
    source_name: str
    pixels: np.ndarray  # uint8 H x W, cropped to the field of view
    crop_box: tuple[int, int, int, int]  # (left, top, right, bottom) in the original
    original_size: tuple[int, int]  # (width, height)


@dataclass(frozen=True)
class Rejection:
    source_name: str
    reason: str


class _Rejected(Exception):
    """Raised inside the pipeline with the reason a file is turned away."""


def ingest_files(files: Iterable[tuple[str, Source]]) -> Iterator[IngestedImage | Rejection]:
    """One IngestedImage or Rejection per image found in `files`; bad input never raises."""
    for name, source in files:
        yield from _ingest_source(name, source, archive_depth=0, budget=None)


def iter_folder(path: Path) -> Iterator[tuple[str, BinaryIO]]:
    """Every file under `path` (sorted, recursive), named relative to it, skipping dotfiles.

    Each file stays open only until the next one is asked for, so consume the pairs one by one (as
    `ingest_files` does) rather than collecting them into a list first.
    """
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if not file.is_file() or _is_junk(PurePosixPath(relative.as_posix())):
            continue
        with file.open("rb") as handle:
            yield relative.as_posix(), handle


def _ingest_source(
    name: str, source: Source, archive_depth: int, budget: "_ArchiveBudget | None"
) -> Iterator[IngestedImage | Rejection]:
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        head = stream.read(132)
        stream.seek(0)
        if not head:
            raise _Rejected("empty file")
        if head[:4] in _ZIP_MAGIC:
            yield from _ingest_archive(name, stream, archive_depth, budget)
            return
        data = _read_capped(stream, MAX_FILE_BYTES)
        # DICOM Part 10 files carry "DICM" after a 128-byte preamble.
        pixels = _decode_dicom(data) if head[128:132] == b"DICM" else _decode_image(data)
        yield _to_ingested(name, pixels)
    except _Rejected as rejected:
        yield Rejection(name, str(rejected))
    except Exception as exc:
        # A decoder failing in a way nobody foresaw must still cost only this one file.
        log.exception("ingest of %s failed unexpectedly", name)
        yield Rejection(name, f"could not be read ({type(exc).__name__}: {exc})")


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _Rejected(f"file too large (over {_megabytes(limit)})")
    return data


def _to_ingested(name: str, pixels: np.ndarray) -> IngestedImage:
    height, width = pixels.shape
    if min(height, width) < MIN_SIDE:
        raise _Rejected(
            f"too small ({width}x{height} pixels; at least {MIN_SIDE} on each side needed)"
        )
    cropped, box = crop_to_field_of_view(pixels)
    if min(cropped.shape) < MIN_SIDE:
        raise _Rejected(
            f"imaging area too small after removing the scanner screen "
            f"({cropped.shape[1]}x{cropped.shape[0]} pixels)"
        )
    return IngestedImage(name, cropped, box, (width, height))


# Decoding ----------------------------------------------------------------------------------------


def _decode_image(data: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; treat both as bombs.
        warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
        try:
            image = PIL.Image.open(io.BytesIO(data))
        except PIL.UnidentifiedImageError:
            raise _Rejected("not an image (unrecognised file format)") from None
        except (PIL.Image.DecompressionBombError, PIL.Image.DecompressionBombWarning):
            raise _Rejected("decompression bomb: the image declares far too many pixels") from None
        with image:
            if image.format not in IMAGE_FORMATS:
                raise _Rejected(
                    f"unsupported format {image.format} (use PNG, JPEG, TIFF, BMP or DICOM)"
                )
            _check_pixel_count(image.width, image.height)
            try:
                image.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise _Rejected(f"corrupt or truncated {image.format} ({exc})") from None
            return _pil_to_gray8(image)


def _check_pixel_count(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise _Rejected(
            f"decompression bomb: {width}x{height} pixels is over the {MAX_PIXELS:,} pixel limit"
        )


def _pil_to_gray8(image: PIL.Image.Image) -> np.ndarray:
    if image.mode in {"I", "I;16", "I;16B", "I;16L", "F"}:
        return _rescale_to_uint8(np.asarray(image))
    if image.mode == "L":
        return np.asarray(image, dtype=np.uint8).copy()
    # Palette, alpha, CMYK and colour all go through RGB; "L" is ITU-R 601 luminance, so coloured
    # scanner overlays become grey like everything else.
    return np.asarray(image.convert("RGB").convert("L"), dtype=np.uint8).copy()


def _rescale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch the actual range of high-bit-depth pixels onto 0..255."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _decode_dicom(data: bytes) -> np.ndarray:
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # pydicom raises many kinds of errors for damaged files
        raise _Rejected(f"corrupt DICOM file ({exc})") from None
    if "PixelData" not in dataset:
        raise _Rejected("DICOM file without an image (no pixel data)")
    _check_pixel_count(int(dataset.get("Columns", 0)), int(dataset.get("Rows", 0)))
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    try:
        pixels = dataset.pixel_array
    except Exception as exc:
        if syntax is not None and syntax.is_compressed:
            raise _Rejected(
                f"compressed DICOM ({syntax.name}) needs a decoder that is not installed"
            ) from None
        raise _Rejected(f"DICOM pixel data could not be decoded ({exc})") from None
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]  # a cine loop: its first frame stands for it
    if int(dataset.get("SamplesPerPixel", 1)) == 3:
        # pydicom hands colour over as RGB; weight it like Pillow's "L" conversion.
        pixels = np.round(pixels[..., :3] @ np.array([0.299, 0.587, 0.114]))
    if pixels.ndim != 2:
        raise _Rejected(f"unsupported DICOM pixel layout (shape {pixels.shape})")
    if pixels.min() >= 0 and pixels.max() <= 255 and int(dataset.get("BitsStored", 8)) <= 8:
        gray = pixels.astype(np.uint8)
    else:
        gray = _rescale_to_uint8(pixels)
    if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
        gray = 255 - gray  # MONOCHROME1 shows its lowest value as white
    return np.ascontiguousarray(gray, dtype=np.uint8)


# Archives ----------------------------------------------------------------------------------------


@dataclass
class _ArchiveBudget:
    """What an upload's archives (nested ones included) may still unpack."""

    members: int
    bytes: int


def _is_junk(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _ingest_archive(
    name: str, stream: BinaryIO, archive_depth: int, budget: "_ArchiveBudget | None"
) -> Iterator[IngestedImage | Rejection]:
    if archive_depth > 1:
        raise _Rejected("archive nested too deep (only one archive inside another is unpacked)")
    budget = budget or _ArchiveBudget(MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_BYTES)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _Rejected(f"corrupt ZIP archive ({exc})") from None
    with archive:
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir() and not _is_junk(PurePosixPath(info.filename))
        ]
        if not members:
            raise _Rejected(_EMPTY_ARCHIVE)
        declared = sum(info.file_size for info in members)
        if len(members) > budget.members:
            raise _Rejected(
                f"too many files in the archive ({len(members)}; at most {budget.members})"
            )
        if declared > budget.bytes:
            raise _Rejected(
                f"archive too large when unpacked ({_megabytes(declared)}; "
                f"at most {_megabytes(budget.bytes)})"
            )
        budget.members -= len(members)
        for info in members:
            member_name = f"{name}/{info.filename}"
            try:
                data = _read_member(archive, info)
            except _Rejected as rejected:
                yield Rejection(member_name, str(rejected))
                continue
            budget.bytes -= len(data)
            yield from _ingest_source(member_name, data, archive_depth + 1, budget)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read one member, checking its declared sizes first and counting the bytes actually read."""
    if info.flag_bits & 0x1:
        raise _Rejected("encrypted archive member")
    limit = MAX_FILE_BYTES
    if info.file_size > limit:
        raise _Rejected(f"file too large (over {_megabytes(limit)})")
    if _looks_like_bomb(info.file_size, info.compress_size):
        raise _Rejected(_bomb_reason(info.file_size, info.compress_size))
    chunks, total = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_READ_CHUNK):
                total += len(chunk)
                if total > limit or total > info.file_size:
                    raise _Rejected("archive member larger than it declares (zip bomb?)")
                if _looks_like_bomb(total, info.compress_size):
                    raise _Rejected(_bomb_reason(total, info.compress_size))
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise _Rejected(f"damaged archive member ({exc})") from None
    return b"".join(chunks)


def _looks_like_bomb(size: int, compressed: int) -> bool:
    return size > _RATIO_CHECK_FROM_BYTES and size > MAX_COMPRESSION_RATIO * max(compressed, 1)


def _bomb_reason(size: int, compressed: int) -> str:
    return (
        f"zip bomb: {_megabytes(size)} compressed {size // max(compressed, 1)}:1 "
        f"(over {MAX_COMPRESSION_RATIO}:1)"
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


# Field of view -----------------------------------------------------------------------------------

# Texture: a 5x5 neighbourhood spanning more than this many grey levels. UI panels are constant and
# screen-capture noise on black borders stays within it; ultrasound speckle does not.
_TEXTURE_RANGE = 2
# Enclosed untextured areas darker than this are echo-free tissue (kept); lighter ones are panels.
# Scanner panels in the development data are grey 36..66, never this dark.
_DARK_LEVEL = 24
_DENSITY_RADIUS = 7
_DENSE_FRACTION = 0.6
_LINE_FRACTION = 0.5
# Analysis runs on a copy no larger than this; the crop box is scaled back.
_ANALYSIS_SIDE = 1024


def crop_to_field_of_view(pixels: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Cut a scanner screen frame down to its imaging field of view (the B-mode rectangle).

    Returns the cropped pixels and the box (left, top, right, bottom) in the input's coordinates;
    an image with nothing around its field of view comes back whole.

    Heuristic, developed on GE Logiq screen frames (header text, grey-map bar, depth scale on black)
    and on frames with grey side panels and icons:

    1. Texture: a pixel is textured when its 5x5 neighbourhood spans more than a couple of grey
       levels. Speckle is textured everywhere; UI panels and black borders are constant.
    2. Background: untextured pixels connected to the frame's edge, plus every untextured pixel
       lighter than near-black (uniform grey is a panel, never tissue). Untextured *dark* areas
       enclosed by tissue — echo-free muscle, shadows — stay part of the image.
    3. Dense content: the non-background mask, box-averaged over 15x15 pixels, must be mostly set.
       Text, tick marks, depth scales and grey-map bars are thin or sparse and fall out here.
    4. Rectangle: alternately keep the longest run of columns, then of rows, in which more than half
       of the pixels (within the current rectangle) are dense content, until it stops changing. The
       black gap between header text and image splits them into separate runs.
    5. Trim up to a few edge rows and columns that are nearly constant: the border caught by the
       5x5 neighbourhoods, with a tick mark or two on it.
    """
    height, width = pixels.shape
    factor = max(1, math.ceil(max(height, width) / _ANALYSIS_SIDE))
    small = PIL.Image.fromarray(pixels).reduce(factor)
    box = _field_of_view_box(small)
    if box is None:
        return pixels.copy(), (0, 0, width, height)
    left, top, right, bottom = (
        box[0] * factor,
        box[1] * factor,
        min(width, box[2] * factor),
        min(height, box[3] * factor),
    )
    # The 5x5 neighbourhoods reach 2 pixels past the field of view; trim at most a little more.
    left, top, right, bottom = _trim_constant_edges(pixels, (left, top, right, bottom), 4 * factor)
    return pixels[top:bottom, left:right].copy(), (left, top, right, bottom)


def _field_of_view_box(image: PIL.Image.Image) -> tuple[int, int, int, int] | None:
    gray = np.asarray(image)
    spread = np.asarray(image.filter(ImageFilter.MaxFilter(5)), dtype=np.int16) - np.asarray(
        image.filter(ImageFilter.MinFilter(5))
    )
    quiet = spread <= _TEXTURE_RANGE
    background = _connected_to_edge(quiet) | (quiet & (gray > _DARK_LEVEL))
    content = PIL.Image.fromarray(np.where(background, 0, 255).astype(np.uint8))
    density = np.asarray(content.filter(ImageFilter.BoxBlur(_DENSITY_RADIUS)))
    dense = density > 255 * _DENSE_FRACTION
    left, top, right, bottom = 0, 0, gray.shape[1], gray.shape[0]
    while True:
        new_left, new_right = _longest_run(dense[top:bottom, left:right].mean(axis=0))
        if new_right == new_left:
            return None
        new_left, new_right = left + new_left, left + new_right
        new_top, new_bottom = _longest_run(dense[top:bottom, new_left:new_right].mean(axis=1))
        if new_bottom == new_top:
            return None
        new_top, new_bottom = top + new_top, top + new_bottom
        box = (new_left, new_top, new_right, new_bottom)
        if box == (left, top, right, bottom):
            return box
        left, top, right, bottom = box


def _longest_run(fractions: np.ndarray) -> tuple[int, int]:
    """[start, end) of the longest run of entries above _LINE_FRACTION; (0, 0) when none."""
    above = np.concatenate(([False], fractions > _LINE_FRACTION, [False]))
    edges = np.flatnonzero(above[1:] != above[:-1])
    if not len(edges):
        return 0, 0
    starts, ends = edges[0::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def _connected_to_edge(mask: np.ndarray) -> np.ndarray:
    """The pixels of `mask` that a 4-connected path within `mask` links to the frame's edge."""
    reached = np.zeros_like(mask)
    reached[0, :], reached[-1, :] = mask[0, :], mask[-1, :]
    reached[:, 0], reached[:, -1] = mask[:, 0], mask[:, -1]
    count = -1
    # Each sweep floods whole horizontal (then vertical) runs at once, so a handful of sweeps
    # cover any realistic screen layout.
    while (new_count := int(reached.sum())) != count:
        count = new_count
        reached = _flood_runs(mask, reached)
        reached = _flood_runs(mask.T, reached.T).T
    return reached


def _flood_runs(mask: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """Mark every horizontal run of `mask` that already holds a reached pixel."""
    height, width = mask.shape
    padded = np.zeros((height, width + 1), dtype=bool)  # a False column ends each row's last run
    padded[:, :width] = mask
    flat = padded.ravel()
    run_ids = np.cumsum(flat & ~np.concatenate(([False], flat[:-1]))) * flat
    hits = np.zeros((height, width + 1))
    hits[:, :width] = reached
    run_reached = np.bincount(run_ids, weights=hits.ravel()) > 0
    run_reached[0] = False  # id 0 marks pixels outside the mask
    return run_reached[run_ids].reshape(height, width + 1)[:, :width]


def _trim_constant_edges(
    pixels: np.ndarray, box: tuple[int, int, int, int], limit: int
) -> tuple[int, int, int, int]:
    def constant(line: np.ndarray) -> bool:
        # Nearly every pixel at one level, give or take noise and the odd tick mark.
        deviation = np.abs(line.astype(np.int16) - int(np.median(line)))
        return float(np.mean(deviation <= _TEXTURE_RANGE + 1)) >= 0.9

    left, top, right, bottom = box
    for _ in range(limit):
        if constant(pixels[top:bottom, left]):
            left += 1
        if constant(pixels[top:bottom, right - 1]):
            right -= 1
        if constant(pixels[top, left:right]):
            top += 1
        if constant(pixels[bottom - 1, left:right]):
            bottom -= 1
    return left, top, right, bottom


# Storage -----------------------------------------------------------------------------------------


@dataclass
class IngestReport:
    imported: int = 0
    duplicates: int = 0
    rejections: list[dict[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        summary = f"Imported {_plural(self.imported, 'image')}"
        if self.duplicates:
            summary += f" ({_plural(self.duplicates, 'duplicate')} skipped)"
        if not self.rejections:
            return [summary + "."]
        lines = [f"{summary}; rejected {_plural(len(self.rejections), 'file')}:"]
        lines += [f"  {item['file']}: {item['reason']}" for item in self.rejections]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def ingest_into_dataset(
    dataset: Dataset, files: Iterable[tuple[str, Source]], *, limit: int | None = None
) -> IngestReport:
    """Store the images found in `files` as real Images of `dataset` (at most `limit` new ones).

    The dataset's train / held-out split is drawn afresh afterwards, also when the ingest stops
    on an unexpected error, so that every stored image belongs to one part.
    """
    report = IngestReport()
    items = ingest_files(files)
    try:
        for item in items:
            if isinstance(item, Rejection):
                report.rejections.append({"file": item.source_name, "reason": item.reason})
            elif _store(dataset, item):
                report.imported += 1
                if report.imported == limit:
                    break
            else:
                report.duplicates += 1
    finally:
        items.close()  # closes the file the pipeline is reading when the limit stops it early
        dataset.apply_split()
    return report


def _store(dataset: Dataset, ingested: IngestedImage) -> bool:
    """Save one image in its own transaction; False when the dataset already has these pixels."""
    sha256 = pixel_sha256(ingested.pixels)
    if Image.objects.filter(dataset=dataset, kind=ImageKind.REAL, sha256=sha256).exists():
        return False
    height, width = ingested.pixels.shape
    image = Image(
        kind=ImageKind.REAL,
        dataset=dataset,
        source_name=ingested.source_name[:500],
        crop_box=list(ingested.crop_box),
        width=width,
        height=height,
        sha256=sha256,
        file=ContentFile(encode_png(ingested.pixels), name="x.png"),
    )
    try:
        with transaction.atomic():
            image.save()
    except IntegrityError:
        # The same pixels arrived through a concurrent upload between the check and the insert.
        image.file.storage.delete(image.file.name)
        return False
    return True


def ingest_upload(job: IngestJob, lease: Lease) -> None:
    """Ingest an upload's stored files into its dataset and record the outcome on the job.

    `job.upload_names` holds the storage names (under `job.upload_dir`) that the upload was saved
    as. They are deleted once ingested; after an unexpected error they stay for a retry. An
    attempt that starts again after a lost worker finds the images it already stored as
    duplicates.
    """
    prefix = f"{job.upload_dir}/"
    stored = [name for name in job.upload_names if default_storage.exists(name)]
    report = ingest_into_dataset(job.dataset, _stored_uploads(stored, prefix, lease))
    report.rejections += [
        {"file": name.removeprefix(prefix), "reason": "the uploaded file is missing"}
        for name in job.upload_names
        if name not in stored
    ]
    lease.update(
        imported_count=report.imported,
        duplicate_count=report.duplicates,
        rejections=report.rejections,
    )
    for name in job.upload_names:
        default_storage.delete(name)
    # FileSystemStorage removes an empty directory too; object stores have none to remove.
    default_storage.delete(job.upload_dir)
    if job.upload_names and not report.imported and not report.duplicates:
        raise JobFailed(
            f"Nothing could be imported: {_plural(len(report.rejections), 'file')} rejected."
        )


def _stored_uploads(names: list[str], prefix: str, lease: Lease) -> Iterator[tuple[str, BinaryIO]]:
    for name in names:
        lease.heartbeat()  # a lease stays live while files keep coming
        with default_storage.open(name, "rb") as handle:
            yield name.removeprefix(prefix), handle
