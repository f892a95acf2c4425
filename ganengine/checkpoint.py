"""Checkpoint files of every family: tensors and plain data only (loaded with weights_only=True).

Every checkpoint is a dict with "format" and "version" (its family's kind), "config" (a JSON
string of the family's config), "step", "rng" {"device_type": str, "state": uint8 tensor} (the
training noise generator) and the family's own entries (CheckpointKind.checkpoint_keys; each
family's checkpoints.py documents its layout). ganengine.loop writes them;
CheckpointKind.load_checkpoint (ganengine/trainable.py) reads them.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not a ganengine checkpoint."""


def save_checkpoint(state: dict[str, Any], *paths: Path, format: str, version: int) -> None:
    """Serialise once and write each path atomically, so readers never see a half-written file."""
    buffer = io.BytesIO()
    torch.save({**state, "format": format, "version": version}, buffer)
    for path in paths:
        _write_atomic(Path(path), buffer.getbuffer())


def read_checkpoint(
    path: str | Path,
    *,
    format: str,
    version: int,
    required: Sequence[str],
    config_class: type,
    retired: Mapping[int, str] | None = None,
    loaded: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load and validate a checkpoint of one kind (its `format`); `config` becomes config_class.

    `retired` maps versions that can no longer be read to the reason, which the error quotes.
    `loaded` is the file's dict when the caller has already read it (load_file), so a checkpoint
    is read from disk once.
    """
    state = load_file(path) if loaded is None else loaded
    if state.get("format") != format:
        raise CheckpointError(f"Checkpoint {path} is not a checkpoint of kind {format}")
    if state.get("version") != version:
        why = (retired or {}).get(state.get("version"))
        raise CheckpointError(
            f"Checkpoint {path} has unsupported version {state.get('version')}"
            + (f": {why}" if why else "")
        )
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"Checkpoint {path} lacks {', '.join(missing)}")
    try:
        state["config"] = config_class.from_dict(json.loads(state["config"])).validate()
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"Checkpoint {path} has an invalid config: {exc}") from exc
    return state


def checkpoint_format(path: str | Path) -> str | None:
    """The kind a checkpoint file declares (its family's checkpoint_format), None if it has none."""
    return load_file(path).get("format")


def load_file(path: str | Path) -> dict[str, Any]:
    """The raw dict of a checkpoint file, tensors on the CPU (CheckpointError if unreadable)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a damaged file
        raise CheckpointError(f"Checkpoint {path} is corrupt or not a checkpoint: {exc}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"Checkpoint {path} is corrupt or not a checkpoint: not a dict")
    return state


def _write_atomic(path: Path, data: memoryview) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    # Persist the rename itself, so a crash cannot leave the directory pointing at the old file.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
