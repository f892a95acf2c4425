"""Uploaded files on their way to ingest: stored under generated names, deleted in one place.

Kept apart from quiz.ingest.pipeline, whose decoders load scipy and pydicom: the admin stores
uploads in the web process, which never loads them (tests/quiz/web/test_web_process_imports.py).
"""

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from django.core.files.base import File
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)


def printable(name: str) -> str:
    """`name` as text fit for the report and the database: each character that cannot be shown
    (a control character, or an undecodable byte of a file system name) becomes U+FFFD."""
    return "".join(char if char.isprintable() else "\ufffd" for char in name)


class UploadNotStored(Exception):
    """An uploaded file could not be saved to storage; the message names it and says why."""


def store_uploads(upload_dir: str, files: Iterable[File], stored: list[dict[str, str]]) -> None:
    """Save each uploaded file in `upload_dir` under a generated name, appending to `stored`.

    Each entry is {"stored": storage name, "name": the name it was uploaded under}. The name is
    kept only as text, for the report and `Image.source_name`: it can be of any length or
    characters (a name of 200 accented letters is over the 255 bytes a file system allows). The
    storage name is the file's place in the upload and its extension when that is plain, e.g.
    0002.jpg. `stored` grows as files are saved, so that its owner can delete what was saved when
    a later step fails (`delete_uploads`). A file that cannot be saved raises UploadNotStored.
    """
    for number, file in enumerate(files, start=1):
        name = printable(file.name or "")
        try:
            saved = default_storage.save(f"{upload_dir}/{number:04d}{_plain_suffix(name)}", file)
        except Exception as exc:  # OSError on disk, botocore's errors on S3, ...
            raise UploadNotStored(
                f"the uploaded file {name!r} could not be stored ({type(exc).__name__}: {exc})"
            ) from exc
        stored.append({"stored": saved, "name": name})


def _plain_suffix(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def delete_uploads(uploads: Iterable[dict[str, str]]) -> None:
    """Delete stored upload files (entries as `store_uploads` makes them) and their folder.

    A file that cannot be deleted is logged, not raised: this runs after an ingest has been
    recorded and while an upload's own error is being reported, and must not replace either.
    """
    names = [upload["stored"] for upload in uploads]
    # FileSystemStorage removes an empty directory too; object stores have none to remove.
    folders = {name.rsplit("/", 1)[0] for name in names}
    for name in [*names, *sorted(folders)]:
        try:
            default_storage.delete(name)
        except Exception:
            log.exception("could not delete the uploaded file %s", name)


def stored_files(
    uploads: Iterable[dict[str, str]], heartbeat: Callable[[], object]
) -> Iterator[tuple[str, BinaryIO]]:
    """Each stored upload opened in turn, under the name it was uploaded with.

    `heartbeat` (the job's Lease.heartbeat) is called before each file, so a job's lease stays
    live while files keep coming. Each file stays open only until the next one is asked for.
    """
    for upload in uploads:
        heartbeat()
        with default_storage.open(upload["stored"], "rb") as handle:
            yield upload["name"], handle
