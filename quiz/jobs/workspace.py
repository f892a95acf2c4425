"""A job attempt's local scratch folder, and copies between it and storage.

Workers never use a local path of a stored file: the storage may be a bucket that a GPU worker on
another host reaches over the network. A job copies what it reads into its attempt's scratch
folder and stores what it writes through Django's storage API. Scratch folders are named by host
and pid, so a worker that starts removes those of its host's processes that no longer exist
(a `kill -9` mid-save leaves its half-written files behind).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)

_COPY_CHUNK = 1 << 20
_SEPARATOR = "__"  # between label, host and pid in a scratch folder's name; in none of them


@contextmanager
def scratch(label: str) -> Iterator[Path]:
    """A fresh folder for one attempt, removed when the attempt ends, however it ends."""
    folder = Path(settings.SCRATCH_DIR) / _SEPARATOR.join(
        [label, socket.gethostname(), str(os.getpid())]
    )
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_scratch() -> int:
    """Remove the scratch folders of this host's processes that have exited; how many."""
    root = Path(settings.SCRATCH_DIR)
    if not root.is_dir():
        return 0
    removed = 0
    host = socket.gethostname()
    for folder in root.iterdir():
        _, folder_host, pid = [*folder.name.split(_SEPARATOR), "", ""][:3]
        if folder_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        log.info("removed %s scratch folder(s) left by exited processes", removed)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # A killed pool process whose parent died too stays a zombie until init reaps it.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def fetch(name: str, destination: Path) -> Path:
    """Copy a stored file into the scratch folder."""
    with default_storage.open(name, "rb") as source, open(destination, "wb") as target:
        shutil.copyfileobj(source, target, _COPY_CHUNK)
    return destination


def store(path: Path, name: str) -> str:
    """Store a local file under `name` (or a free name beside it); the name it was stored as."""
    with open(path, "rb") as handle:
        return default_storage.save(name, File(handle))


def prune(folder: str, prefix: str, keep: str) -> None:
    """Delete the stored files in `folder` whose names start with `prefix`, except `keep`.

    This removes superseded checkpoints and any partial copy that a crash mid-store left behind.
    """
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for file_name in files:
        name = f"{folder}/{file_name}"
        if file_name.startswith(prefix) and name != keep:
            default_storage.delete(name)
