"""A generator's training manifest: the real images it trained on, resolved to pixel hashes.

A manifest is a text file, one entry per line, or a CSV whose column named `sha256` (or else
`file`, `filename`, `name`, `path` or `source_name`; else its first column) holds the entries.
Blank lines and lines starting with `#` are ignored. An entry is either

- a **pixel SHA-256**: 64 hexadecimal digits, the SHA-256 of an image's decoded pixels (grey,
  or colour H x W x 3) as `quiz.imaging.pixel_sha256` computes it (the shape, then the uint8
  pixels row by row), matched against `Image.sha256` (the stored crop) and
  `Image.source_sha256` (the decoded frame before the crop) of every real image this site
  holds; or
- a **file name**, matched against the `Image.source_name` of the real images of the dataset the
  generator was trained on (`Generator.trained_on`): the whole name, or its last parts after a
  `/` (`scan_001.png` and `images/scan_001.png` both name `upload.zip/images/scan_001.png`); a
  multi-frame file's name names all its frames.

The record (`Generator.manifest_hashes`) holds both hashes of every real image an entry matches,
so the scan is caught whichever way it is cropped, and every hash entry as given, also one that
matches nothing held here now: a copy of that scan uploaded later is refused as a real panel too.
No entry is dropped silently: a file name that names no image, and a hash that matches none, are
named in the import's report.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.db.models import Q

from quiz.ingest.decoding import Rejected
from quiz.ingest.report import entry, plural
from quiz.models import Dataset, Image, ImageKind

MAX_MANIFEST_BYTES = 10 * 1024 * 1024
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_HASH_COLUMNS = ("sha256", "pixel_sha256")
_NAME_COLUMNS = ("file", "filename", "file_name", "name", "path", "source_name")
# Ingest names the frames of a multi-frame file "scan.dcm [frame 2 of 8]".
_FRAME_SUFFIX = re.compile(r" \[frame \d+ of \d+\]$")


@dataclass(frozen=True)
class ManifestEntry:
    line: int
    text: str

    @property
    def is_hash(self) -> bool:
        return bool(_HASH.fullmatch(self.text))


@dataclass
class ResolvedManifest:
    """The record for Generator.manifest_hashes, and what the report says about the entries."""

    hashes: list[str]
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)


def parse_manifest(data: bytes) -> list[ManifestEntry]:
    """The entries of a manifest file; raises `Rejected` naming what is wrong with it."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise Rejected(f"manifest too large (over {MAX_MANIFEST_BYTES // 2**20} MB)")
    if b"\x00" in data:
        raise Rejected("not a text file (a manifest is CSV or plain text, one entry per line)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Rejected(f"not UTF-8 text (byte {exc.start}): save the manifest as UTF-8") from None
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and row[0].strip() and not row[0].lstrip().startswith("#")
    ]
    column = 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0][1]]
        named = [name for name in (*_HASH_COLUMNS, *_NAME_COLUMNS) if name in header]
        if named:
            column = header.index(named[0])
            rows = rows[1:]
    entries = [
        ManifestEntry(number, row[column].strip())
        for number, row in rows
        if len(row) > column and row[column].strip()
    ]
    if not entries:
        raise Rejected("the manifest names no image")
    return entries


def resolve_manifest(
    manifest_name: str, entries: list[ManifestEntry], trained_on: Dataset | None
) -> ResolvedManifest:
    """The pixel hashes of what the entries name; each entry that matches nothing is reported."""
    resolved = ResolvedManifest(hashes=[])
    hashes = {item.text.lower() for item in entries if item.is_hash}
    names = [item for item in entries if not item.is_hash]
    recorded = set(hashes)
    matched_hashes: set[str] = set()
    images: set[int] = set()
    real = Image.objects.filter(kind=ImageKind.REAL)
    for pk, sha256, source_sha256 in real.filter(
        Q(sha256__in=hashes) | Q(source_sha256__in=hashes)
    ).values_list("pk", "sha256", "source_sha256"):
        matched_hashes |= {sha256, source_sha256} & hashes
        recorded |= {sha256, source_sha256} - {""}
        images.add(pk)
    for item in entries:
        if item.is_hash and item.text.lower() not in matched_hashes:
            resolved.notes.append(
                entry(
                    _where(manifest_name, item),
                    "matches no real image held here now; kept in the record, so a scan with "
                    "these pixels uploaded later is refused as a real panel beside this "
                    "generator's images",
                )
            )
    if names and trained_on is None:
        resolved.skipped += [
            entry(
                _where(manifest_name, item),
                "a file name needs the dataset it names an image of: give the generator the "
                "dataset it was trained on, then upload the manifest again",
            )
            for item in names
        ]
    elif names:
        by_name = _names_of(trained_on)
        for item in names:
            found = by_name.get(_normalised(item.text), [])
            if not found:
                resolved.skipped.append(
                    entry(
                        _where(manifest_name, item),
                        f"no real image of dataset “{trained_on}” has this file name: not in "
                        "the record",
                    )
                )
            for pk, sha256, source_sha256 in found:
                recorded |= {sha256, source_sha256} - {""}
                images.add(pk)
    resolved.hashes = sorted(recorded)
    resolved.notes.insert(
        0,
        entry(
            manifest_name,
            f"{len(entries)} {'entry' if len(entries) == 1 else 'entries'} named "
            f"{plural(len(images), 'real image')} held here; they can never be real panels "
            "of a study with this generator's images",
        ),
    )
    return resolved


def _where(manifest_name: str, item: ManifestEntry) -> str:
    return f"{manifest_name} line {item.line}: {item.text[:200]}"


def _normalised(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _names_of(dataset: Dataset) -> dict[str, list[tuple[int, str, str]]]:
    """The dataset's real images under each name an entry may give: every tail of their paths."""
    by_name: dict[str, list[tuple[int, str, str]]] = {}
    rows = dataset.images.filter(kind=ImageKind.REAL).values_list(
        "pk", "source_name", "sha256", "source_sha256"
    )
    for pk, source_name, sha256, source_sha256 in rows:
        parts = PurePosixPath(_FRAME_SUFFIX.sub("", source_name)).parts
        for start in range(len(parts)):
            by_name.setdefault("/".join(parts[start:]), []).append((pk, sha256, source_sha256))
    return by_name
