"""Exact comparison of saved checkpoints: every tensor, number and string, nested."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def saved(path: Path) -> dict[str, Any]:
    """The checkpoint file's dict as written, tensors on the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """a and b are equal all the way down; the message names the first path that differs."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
