"""Ingest of real images: validate, decode, find the imaging field of view, store canonical PNGs.

The pipeline (`ingest_files`) takes `(name, bytes or binary file)` pairs — uploads, the files of a
folder (`iter_folder`) or the stored files of an upload (`ingest_upload`) — and yields one
`IngestedImage`, `Rejection` or `Skipped` per image (or frame) it finds, after the `Note`s on
its file. Bad input never raises out of it: each bad file becomes a rejection with a short
reason, and the rest go on. Names are only text here, for the report and `Image.source_name`:
nothing is ever stored under them (`store_uploads` gives an upload's files generated names), and
`iter_folder` follows no symbolic link. `docs/ingest.md` describes every step and its figures.

The steps, each in its own module of quiz.ingest: `decoding` turns a file's bytes into frames
(DICOM with its LUTs, colour spaces and compressed syntaxes, 16-bit windowing, multi-frame
files); `field_of_view` finds the imaging field (rectangle, steered parallelogram or sector) and
leaves the scanner's screen around it; `bmode_check` flags what is not grayscale B-mode (colour
Doppler, other modalities, screenshots). ZIP archives are unpacked here (an archive inside an
archive once; directories, `__MACOSX/` and dotfiles are skipped silently, members with unsafe
names and symbolic links are named and left out).

`ingest_into_dataset` stores what the pipeline yields as `Image(kind="real")` rows, each in its own
transaction, skipping (and naming) images the dataset already holds, exactly or nearly
(`near_duplicates`), then redraws the dataset's train / held-out split (`Dataset.apply_split`).
Staff review the crops afterwards (`crop_review`).
"""

import hashlib
import io
import logging
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import PIL.Image
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from quiz.imaging import encode_png, pixel_sha256
from quiz.ingest.bmode_check import Flag, check_bmode, check_screen
from quiz.ingest.crop_review import CropCounts, crop_counts
from quiz.ingest.crops import MIN_SIDE, set_crop
from quiz.ingest.decoding import DecodedFile, Rejected, decode_file
from quiz.ingest.field_of_view.detector import FieldOfView, find_field_of_view
from quiz.ingest.near_duplicates import NEAR_DUPLICATE_DISTANCE, SignatureIndex, signature
from quiz.ingest.uploads import delete_uploads, printable
from quiz.jobs import JobFailed, Lease
from quiz.models import Dataset, Image, ImageKind, IngestJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeftOut:
    """What a name stands for when its file is not read at all (a symbolic link, a device)."""

    reason: str


Source = bytes | BinaryIO | LeftOut

# Panels and training show the largest rectangle of the field clear of scanner graphics; an
# image whose marks leave less than this share of its field for that is flagged for review.
MIN_PANEL_SHARE = 0.5
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 10_000
MAX_ARCHIVE_BYTES = 4 * 1024 * 1024 * 1024
# Image files barely compress in a zip; a member that shrinks this much is a bomb, not a scan.
MAX_COMPRESSION_RATIO = 100
_RATIO_CHECK_FROM_BYTES = 1024 * 1024
_READ_CHUNK = 1024 * 1024

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_EMPTY_ARCHIVE = "empty archive, no images inside"
_UNSAFE_MEMBER = "unsafe name in the archive (a '..' part or an absolute path): not unpacked"
# Members are read as bytes, never unpacked, so a link could not reach outside the archive; it
# holds no image either (only its target's path), and the report says so rather than reject it.
_LINK_MEMBER = "symbolic link in the archive: not followed"


@dataclass(frozen=True)
class IngestOptions:
    # Frames kept from a cine loop, evenly spaced (Dataset.frames_per_file).
    frames_per_file: int = 8
    # Seconds the field-of-view search may take per file before it falls back or gives up.
    crop_budget_s: float = 2.0

    @classmethod
    def for_dataset(cls, dataset: Dataset) -> "IngestOptions":
        return cls(dataset.frames_per_file, settings.INGEST_CROP_BUDGET_SECONDS)


@dataclass(frozen=True)
class IngestedImage:
    source_name: str
    source: np.ndarray  # uint8 H x W: the decoded frame in grey, before the crop
    pixels: np.ndarray  # uint8: the field's bounding box, black outside the field
    field: FieldOfView
    flags: list[Flag]
    source_key: str  # the SHA-256 of a multi-frame file, shared by its frames; else ""
    source_format: str = ""  # the file's format (DecodedFile.format)

    @property
    def panel_box(self) -> tuple[int, int, int, int] | None:
        """Where panels and training look, in `pixels`; None for all of it."""
        height, width = self.pixels.shape
        inscribed = self.field.inscribed
        return None if inscribed == (0, 0, width, height) else inscribed

    def panel_pixels(self) -> np.ndarray:
        """What its panels will show (Image.panel_pixels)."""
        left, top, right, bottom = self.field.inscribed
        return self.pixels[top:bottom, left:right]


@dataclass(frozen=True)
class Rejection:
    source_name: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """Left out on purpose: an unsafe archive member name, a symbolic link, a file that is not a
    regular one (duplicates are found when storing)."""

    source_name: str
    reason: str


@dataclass(frozen=True)
class Note:
    """A remark on a file whose images follow: frames kept, windowing, a crop fallback."""

    source_name: str
    reason: str


Item = IngestedImage | Rejection | Skipped | Note


def ingest_files(
    files: Iterable[tuple[str, Source]], options: IngestOptions | None = None
) -> Iterator[Item]:
    """One IngestedImage, Rejection or Skipped per image found in `files`; never raises."""
    options = options or IngestOptions()
    for name, source in files:
        yield from _ingest_source(printable(name), source, options, archive_depth=0, budget=None)


def iter_folder(path: Path) -> Iterator[tuple[str, Source]]:
    """Every file under `path` (sorted, recursive), named relative to it, skipping dotfiles.

    No symbolic link is followed, not even one to a file inside the folder (that file is read
    under its own name): each link, and anything else that is not a regular file or a folder
    (a pipe, a socket, a device), comes as a `LeftOut` naming why, so the report names it. Links
    to folders are not descended into, so a loop of them cannot hang the walk.

    Each file stays open only until the next one is asked for, so consume the pairs one by one (as
    `ingest_files` does) rather than collecting them into a list first.
    """
    root = path.resolve()
    # rglob lists a link to a folder but does not descend into it.
    for entry in sorted(root.rglob("*")):
        name = entry.relative_to(root).as_posix()
        if _is_junk(PurePosixPath(name)):
            continue
        try:
            mode = entry.lstat().st_mode
        except OSError as exc:  # gone since the listing
            yield name, LeftOut(f"could not be looked at ({exc.strerror}): not read")
            continue
        if stat.S_ISDIR(mode):
            continue
        if stat.S_ISLNK(mode):
            yield name, LeftOut(_link_reason(entry, root))
        elif not stat.S_ISREG(mode):
            yield name, LeftOut("not a regular file (a pipe, socket or device): not read")
        else:
            yield from _open_regular(entry, name)


def _link_reason(link: Path, root: Path) -> str:
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        target = printable(os.readlink(link))
        return f"dangling symbolic link (to {target}, which does not exist): skipped"
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, OSError after
        return "symbolic link in a loop of links: skipped"
    if target == root:
        return "symbolic link to the folder itself: not followed"
    if target.is_relative_to(root):
        return (
            f"symbolic link to {printable(target.relative_to(root).as_posix())}, inside the "
            "folder: not followed (what it points to is read under its own name)"
        )
    return f"symbolic link to {printable(str(target))}, outside the folder: not followed"


def _open_regular(file: Path, name: str) -> Iterator[tuple[str, Source]]:
    """The open file, unless it became a link or something else since it was listed."""
    try:
        # O_NOFOLLOW: a link swapped in after the listing is refused, not followed. O_NONBLOCK:
        # a pipe swapped in cannot block the open; it is caught by the check that follows.
        descriptor = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        yield name, LeftOut(f"could not be opened ({exc.strerror}): not read")
        return
    with open(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            yield name, LeftOut("not a regular file when it was opened: not read")
            return
        yield name, handle


def _ingest_source(
    name: str,
    source: Source,
    options: IngestOptions,
    archive_depth: int,
    budget: "_ArchiveBudget | None",
) -> Iterator[Item]:
    if isinstance(source, LeftOut):
        yield Skipped(name, source.reason)
        return
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        head = stream.read(4)
        stream.seek(0)
        if not head:
            raise Rejected("empty file")
        if head in _ZIP_MAGIC:
            yield from _ingest_archive(name, stream, options, archive_depth, budget)
            return
        data = _read_capped(stream, MAX_FILE_BYTES)
        decoded = decode_file(data, max_frames=options.frames_per_file)
        yield from _field_images(name, data, decoded, options)
    except Rejected as rejected:
        yield Rejection(name, str(rejected))
    except Exception as exc:
        # A decoder failing in a way nobody foresaw must still cost only this one file.
        log.exception("ingest of %s failed unexpectedly", name)
        yield Rejection(name, f"could not be read ({type(exc).__name__}: {exc})")


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Rejected(f"file too large (over {_megabytes(limit)})")
    return data


def _field_images(
    name: str, data: bytes, decoded: DecodedFile, options: IngestOptions
) -> Iterator[IngestedImage | Note]:
    """Crop each frame of one file to the field of view, found once from all its frames.

    A cine loop's frames share one screen layout; finding the field from all of them lets the
    detector tell the static screen from moving tissue.
    """
    height, width = decoded.frames[0].shape[:2]
    if min(height, width) < MIN_SIDE:
        raise Rejected(
            f"too small ({width}x{height} pixels; at least {MIN_SIDE} on each side needed)"
        )
    field = find_field_of_view(decoded.frames, budget_s=options.crop_budget_s)
    left, top, right, bottom = field.box
    inscribed = field.inscribed
    if min(inscribed[2] - inscribed[0], inscribed[3] - inscribed[1]) < MIN_SIDE:
        raise Rejected(
            f"imaging area too small after removing the scanner screen "
            f"({right - left}x{bottom - top} pixels)"
        )
    several = len(decoded.frames) > 1
    key = hashlib.sha256(data).hexdigest() if several else ""
    for note in decoded.notes + ([field.note] if field.note else []):
        yield Note(name, note)
    # Where the B-mode check looks: the field, less the scanner's marks over it.
    judged = field.in_frame(height, width)
    if field.overlay is not None:
        judged[top:bottom, left:right] &= ~field.overlay
    for index, frame in enumerate(decoded.frames):
        grey = _to_grey(frame)
        pixels = grey[top:bottom, left:right].copy()
        if field.mask is not None:
            pixels[~field.mask] = 0
        yield IngestedImage(
            source_name=f"{name} [frame {index + 1} of {len(decoded.frames)}]" if several else name,
            source=grey,
            pixels=pixels,
            field=field,
            flags=_flags(frame, field, judged, decoded.modality),
            source_key=key,
            source_format=decoded.format,
        )


def _to_grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    # ITU-R 601 luminance, as Pillow's "L" conversion.
    return np.asarray(PIL.Image.fromarray(frame, mode="RGB").convert("L"), dtype=np.uint8)


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


# Archives ----------------------------------------------------------------------------------------


@dataclass
class _ArchiveBudget:
    """What an upload's archives (nested ones included) may still unpack."""

    members: int
    bytes: int


def _is_junk(path: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in path.parts)


def _unsafe_member_name(filename: str) -> bool:
    """A name that would climb out of, or start outside, the folder it is unpacked into.

    Members are never written to disk by name, but such a name says the archive was made to
    attack an unpacker, and the report must say it was left out rather than drop it silently.
    """
    normalised = filename.replace("\\", "/")
    path = PurePosixPath(normalised)
    has_drive = len(normalised) > 1 and normalised[1] == ":"
    return path.is_absolute() or has_drive or ".." in path.parts


def _ingest_archive(
    name: str,
    stream: BinaryIO,
    options: "IngestOptions",
    archive_depth: int,
    budget: "_ArchiveBudget | None",
) -> Iterator["Item"]:
    if archive_depth > 1:
        raise Rejected("archive nested too deep (only one archive inside another is unpacked)")
    budget = budget or _ArchiveBudget(MAX_ARCHIVE_MEMBERS, MAX_ARCHIVE_BYTES)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Rejected(f"corrupt ZIP archive ({exc})") from None
    with archive:
        members, left_out = [], []
        for info in archive.infolist():
            if _unsafe_member_name(info.filename):
                left_out.append((info, _UNSAFE_MEMBER))
            elif stat.S_ISLNK(info.external_attr >> 16):
                left_out.append((info, _LINK_MEMBER))
            elif not info.is_dir() and not _is_junk(PurePosixPath(info.filename)):
                members.append(info)
        for info, reason in left_out:
            yield Skipped(f"{name}/{printable(info.filename)}", reason)
        if not members:
            if left_out:
                return
            raise Rejected(_EMPTY_ARCHIVE)
        declared = sum(info.file_size for info in members)
        if len(members) > budget.members:
            raise Rejected(
                f"too many files in the archive ({len(members)}; at most {budget.members})"
            )
        if declared > budget.bytes:
            raise Rejected(
                f"archive too large when unpacked ({_megabytes(declared)}; "
                f"at most {_megabytes(budget.bytes)})"
            )
        budget.members -= len(members)
        for info in members:
            member_name = f"{name}/{printable(info.filename)}"
            try:
                data = _read_member(archive, info)
            except Rejected as rejected:
                yield Rejection(member_name, str(rejected))
                continue
            budget.bytes -= len(data)
            yield from _ingest_source(member_name, data, options, archive_depth + 1, budget)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read one member, checking its declared sizes first and counting the bytes actually read."""
    if info.flag_bits & 0x1:
        raise Rejected("encrypted archive member")
    limit = MAX_FILE_BYTES
    if info.file_size > limit:
        raise Rejected(f"file too large (over {_megabytes(limit)})")
    if _looks_like_bomb(info.file_size, info.compress_size):
        raise Rejected(_bomb_reason(info.file_size, info.compress_size))
    chunks, total = [], 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_READ_CHUNK):
                total += len(chunk)
                if total > limit or total > info.file_size:
                    raise Rejected("archive member larger than it declares (zip bomb?)")
                if _looks_like_bomb(total, info.compress_size):
                    raise Rejected(_bomb_reason(total, info.compress_size))
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise Rejected(f"damaged archive member ({exc})") from None
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


# Storage -----------------------------------------------------------------------------------------


@dataclass
class IngestReport:
    """What one ingest did, one entry per file (or frame) that was not simply imported."""

    imported: int = 0
    duplicates: int = 0  # exact and near-duplicates; each is also named in `skipped`
    rejections: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    flagged: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)
    crops: CropCounts | None = None  # the dataset's, after this ingest

    def lines(self) -> list[str]:
        summary = f"Imported {_plural(self.imported, 'image')}"
        if self.duplicates:
            summary += f" ({_plural(self.duplicates, 'duplicate')} skipped)"
        if self.rejections:
            summary += f"; rejected {_plural(len(self.rejections), 'file')}"
        sections = [
            ("", self.rejections),
            (f"Skipped {_plural(len(self.skipped), 'file')}:", self.skipped),
            (
                f"Flagged {_plural(len(self.flagged), 'image')} as not plain B-mode (kept out of "
                "training and studies until staff accept them on the dataset's crop review):",
                self.flagged,
            ),
            ("Notes:", self.notes),
        ]
        lines = [summary + ":"] if self.rejections else [summary + "."]
        for heading, entries in sections:
            if entries and heading:
                lines.append(heading)
            lines += [f"  {item['file']}: {item['reason']}" for item in entries]
        if self.crops is not None:
            lines.append(f"Crops of the dataset: {self.crops}.")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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
                report.rejections.append(_entry(item.source_name, item.reason))
                continue
            if isinstance(item, Skipped):
                report.skipped.append(_entry(item.source_name, item.reason))
                continue
            if isinstance(item, Note):
                report.notes.append(_entry(item.source_name, item.reason))
                continue
            twin = _store(dataset, item, index)
            if twin:
                report.duplicates += 1
                report.skipped.append(_entry(item.source_name, twin))
                continue
            report.imported += 1
            report.flagged += [_entry(item.source_name, flag.reason) for flag in item.flags]
            if report.imported == limit:
                break
    finally:
        items.close()  # closes the file the pipeline is reading when the limit stops it early
        dataset.apply_split()
    report.crops = crop_counts(dataset)
    return report


def _entry(name: str, reason: str) -> dict[str, str]:
    return {"file": name, "reason": reason}


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
        _delete_files(image)
        return "duplicate of an image stored by a concurrent upload"
    index.add(image.source_name, image.signature)
    return ""


def _delete_files(image: Image) -> None:
    for file in (image.file, image.source_file, image.field_mask):
        if file and file.name and file.storage.exists(file.name):
            file.storage.delete(file.name)


def ingest_upload(job: IngestJob, lease: Lease) -> None:
    """Ingest an upload's stored files into its dataset and record the outcome on the job.

    `job.uploads` names each file twice: where it is stored (under `job.upload_dir`) and the name
    it was uploaded under, which the report and the images' source names use. The files are
    deleted once ingested; after an unexpected error they stay for a retry. An attempt that starts
    again after a lost worker finds the images it already stored as duplicates.
    """
    present = [upload for upload in job.uploads if default_storage.exists(upload["stored"])]
    report = IngestReport()
    try:
        ingest_into_dataset(job.dataset, _stored_uploads(present, lease), report=report)
    except SoftTimeLimitExceeded:
        _record(lease, report)
        limit = settings.JOB_TIME_LIMITS["quiz.tasks.ingest_upload"]
        raise JobFailed(
            f"Stopped at the ingest time limit ({limit} s, INGEST_TIME_LIMIT) after "
            f"{_plural(report.imported, 'image')}: those are kept, and the uploaded files stay "
            "for another try."
        ) from None
    report.rejections += [
        {"file": upload["name"], "reason": "the uploaded file is missing"}
        for upload in job.uploads
        if upload not in present
    ]
    _record(lease, report)
    delete_uploads(job.uploads)
    if job.uploads and not report.imported and not report.duplicates:
        raise JobFailed(
            f"Nothing could be imported: {_plural(len(report.rejections), 'file')} rejected."
        )


def _record(lease: Lease, report: IngestReport) -> None:
    lease.update(
        imported_count=report.imported,
        duplicate_count=report.duplicates,
        rejections=report.rejections,
        skipped=report.skipped,
        flagged=report.flagged,
        notes=report.notes,
    )


def _stored_uploads(uploads: list[dict[str, str]], lease: Lease) -> Iterator[tuple[str, BinaryIO]]:
    for upload in uploads:
        lease.heartbeat()  # a lease stays live while files keep coming
        with default_storage.open(upload["stored"], "rb") as handle:
            yield upload["name"], handle
