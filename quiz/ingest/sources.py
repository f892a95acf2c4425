"""The files of an upload, a folder or a ZIP archive, up to the bytes of each one: shared by the
ingest of real images (quiz.ingest.pipeline) and the import of a generator's images
(quiz.ingest.synthetic), so both take the same input by the same rules.

`read_sources` takes `(name, bytes or binary file or LeftOut)` pairs and hands each file's bytes
to the caller's `read_file`, which yields what it makes of them; bad input never raises out of
it. Each file too large, empty or unreadable becomes a `Rejection` with a short reason, each one
left out on purpose a `Skipped`, and the rest go on. ZIP archives are unpacked here (an archive
inside an archive once; directories, `__MACOSX/` and dotfiles are skipped silently, members with
unsafe names and symbolic links are named and left out; a member that would unpack past the
archive's budget or its own declared size, or that compresses like a bomb, is rejected). Names
are only text here, for the report: nothing is ever stored under them, and `iter_folder` follows
no symbolic link.
"""

import io
import logging
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeVar

from quiz.ingest.decoding import Rejected
from quiz.ingest.uploads import printable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeftOut:
    """What a name stands for when its file is not read at all (a symbolic link, a device)."""

    reason: str


Source = bytes | BinaryIO | LeftOut

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


T = TypeVar("T")
# What a caller makes of one file's bytes: its images, notes, ...; raises Rejected to turn the
# file away with a reason.
ReadFile = Callable[[str, bytes], Iterator[T]]


def read_sources(
    files: Iterable[tuple[str, Source]], read_file: ReadFile[T]
) -> Iterator[T | Rejection | Skipped]:
    """What `read_file` makes of each file in `files` (archives unpacked); never raises."""
    for name, source in files:
        yield from _read_source(printable(name), source, read_file, archive_depth=0, budget=None)


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


def _read_source(
    name: str,
    source: Source,
    read_file: ReadFile[T],
    archive_depth: int,
    budget: "_ArchiveBudget | None",
) -> Iterator[T | Rejection | Skipped]:
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
            yield from _read_archive(name, stream, read_file, archive_depth, budget)
            return
        yield from read_file(name, _read_capped(stream, MAX_FILE_BYTES))
    except Rejected as rejected:
        yield Rejection(name, str(rejected))
    except Exception as exc:
        # A decoder failing in a way nobody foresaw must still cost only this one file.
        log.exception("reading %s failed unexpectedly", name)
        yield Rejection(name, f"could not be read ({type(exc).__name__}: {exc})")


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Rejected(f"file too large (over {megabytes(limit)})")
    return data


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


def _read_archive(
    name: str,
    stream: BinaryIO,
    read_file: ReadFile[T],
    archive_depth: int,
    budget: "_ArchiveBudget | None",
) -> Iterator[T | Rejection | Skipped]:
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
                f"archive too large when unpacked ({megabytes(declared)}; "
                f"at most {megabytes(budget.bytes)})"
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
            yield from _read_source(member_name, data, read_file, archive_depth + 1, budget)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Read one member, checking its declared sizes first and counting the bytes actually read."""
    if info.flag_bits & 0x1:
        raise Rejected("encrypted archive member")
    limit = MAX_FILE_BYTES
    if info.file_size > limit:
        raise Rejected(f"file too large (over {megabytes(limit)})")
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
        f"zip bomb: {megabytes(size)} compressed {size // max(compressed, 1)}:1 "
        f"(over {MAX_COMPRESSION_RATIO}:1)"
    )


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"
