"""The numeric matrix the classifier sees: each cue of an observation as columns, in groups.

A group is one channel a leak could travel by (content length, headers, timing, dimensions,
format, page source, URL, position); the classifier scores each group alone to name the one
that leaks. docs/quiz-integrity.md describes each feature.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from quiz.integrity.leak_audit.observation import PanelObservation

FEATURE_GROUPS = (
    "content-length",
    "headers",
    "timing",
    "dimensions",
    "format",
    "page-source",
    "url",
    "position",
)

_DIGITS = re.compile(r"\d+")
_CONTEXT_INTEGERS = 4


@dataclass
class FeatureMatrix:
    """One row per observation; each column has a name and the group of features it belongs to."""

    X: np.ndarray
    names: list[str]
    groups: list[str]


@dataclass
class _Columns:
    columns: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def numeric(self, group: str, name: str, values: list[float]) -> None:
        self.columns.append(np.asarray(values, dtype=float))
        self.names.append(name)
        self.groups.append(group)

    def one_hot(self, group: str, name: str, values: list[str], max_levels: int = 32) -> None:
        """A column per value seen at least twice (the most frequent first); rare ones share none.

        A value seen once can only identify one panel, never a class.
        """
        counts = Counter(values)
        levels = [value for value, count in counts.most_common(max_levels) if count > 1]
        for level in levels:
            self.numeric(group, f"{name}={level[:60]}", [float(v == level) for v in values])


def features(observations: list[PanelObservation]) -> FeatureMatrix:
    """The numeric matrix the classifier sees; columns that never vary are left out."""
    cols = _Columns()
    obs = observations
    cols.numeric("content-length", "body length", [o.body_length for o in obs])
    cols.numeric(
        "content-length", "Content-Length", [_int(o.headers.get("content-length")) for o in obs]
    )
    cols.numeric("content-length", "repeat body length", [o.repeat_length for o in obs])

    cols.numeric("headers", "status", [o.status for o in obs])
    cols.numeric("headers", "repeat status", [o.repeat_status for o in obs])
    cols.numeric("headers", "repeat headers same", [o.repeat_headers_same for o in obs])
    cols.one_hot("headers", "header set", [" ".join(sorted(o.headers)) for o in obs])
    for name in sorted({name for o in obs for name in o.headers} - {"content-length"}):
        values = [o.headers.get(name) for o in obs]
        cols.one_hot("headers", name, [str(v) for v in values])
        cols.numeric("headers", f"{name} length", [len(v) if v is not None else -1 for v in values])

    cols.numeric("timing", "time to first byte", [o.ttfb_first_s for o in obs])
    cols.numeric("timing", "time to first byte, repeated", [o.ttfb_repeat_s for o in obs])

    cols.numeric("dimensions", "width", [o.width for o in obs])
    cols.numeric("dimensions", "height", [o.height for o in obs])

    cols.one_hot("format", "content type", [o.content_type for o in obs])
    cols.one_hot("format", "image format", [f"{o.image_format} {o.image_mode}" for o in obs])
    cols.one_hot("format", "chunks", [" ".join(_collapse(o.png_chunks)) for o in obs])
    cols.numeric("format", "chunk count", [len(o.png_chunks) for o in obs])
    cols.numeric("format", "IDAT count", [o.png_chunks.count("IDAT") for o in obs])
    cols.numeric("format", "bytes after IEND", [o.trailing_bytes for o in obs])
    for name in ("bit_depth", "color_type", "compression", "filter", "interlace"):
        cols.numeric("format", f"IHDR {name}", [o.ihdr.get(name, -1) for o in obs])

    cols.one_hot("page-source", "tag", [_DIGITS.sub("0", o.tag) for o in obs])
    cols.one_hot("page-source", "before", [_DIGITS.sub("0", o.context_before) for o in obs])
    cols.one_hot("page-source", "after", [_DIGITS.sub("0", o.context_after) for o in obs])
    cols.numeric("page-source", "tag length", [len(o.tag) for o in obs])
    cols.numeric(
        "page-source", "context length", [len(o.context_before) + len(o.context_after) for o in obs]
    )
    # Numbers near the image (an image id, a size) as values: ids ordered by kind separate by
    # threshold even for images the classifier never saw.
    for where, pick in (
        ("in tag", lambda o: _integers(o.tag)),
        ("after", lambda o: _integers(o.context_after)),
        ("before", lambda o: _integers(o.context_before)[::-1]),
    ):
        found = [pick(o) for o in obs]
        for index in range(_CONTEXT_INTEGERS):
            cols.numeric(
                "page-source",
                f"number {index + 1} {where}",
                [row[index] if index < len(row) else -1 for row in found],
            )

    tokens = [o.url_path.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0] for o in obs]
    cols.numeric("url", "path length", [len(o.url_path) for o in obs])
    cols.numeric("url", "token length", [len(t) for t in tokens])
    for label, test in (
        ("digits", str.isdigit),
        ("upper case", str.isupper),
        ("lower case", str.islower),
    ):
        cols.numeric("url", f"token {label}", [sum(map(test, t)) for t in tokens])
    cols.numeric("url", "token -", [t.count("-") for t in tokens])
    cols.numeric("url", "token _", [t.count("_") for t in tokens])
    cols.one_hot(
        "url", "path", [o.url_path.replace(t, "{token}") for o, t in zip(obs, tokens, strict=True)]
    )

    _viewer_columns(cols, obs)

    cols.numeric("position", "position", [o.position for o in obs])
    cols.numeric("position", "panels on page", [o.panels_on_page for o in obs])
    cols.numeric("position", "round", [o.round_number for o in obs])

    X = np.column_stack(cols.columns) if cols.columns else np.zeros((len(obs), 0))
    varying = [i for i in range(X.shape[1]) if np.ptp(X[:, i]) > 0]
    return FeatureMatrix(
        X=X[:, varying],
        names=[cols.names[i] for i in varying],
        groups=[cols.groups[i] for i in varying],
    )


def _viewer_columns(cols: _Columns, obs: list[PanelObservation]) -> None:
    """The viewer rendition's cues, in the groups of the panel's own: its length, status and
    headers, time to first byte, dimensions and format (-1 where a panel has none)."""
    viewers = [o.viewer or {} for o in obs]
    if not any(viewers):
        return
    cols.numeric(
        "content-length", "viewer body length", [v.get("body_length", -1) for v in viewers]
    )
    cols.numeric("headers", "viewer status", [v.get("status", -1) for v in viewers])
    cols.one_hot(
        "headers",
        "viewer headers",
        [
            " ".join(f"{k}={val}" for k, val in sorted(v.get("headers", {}).items()))
            for v in viewers
        ],
    )
    cols.numeric("timing", "viewer time to first byte", [v.get("ttfb_s", -1) for v in viewers])
    cols.numeric("dimensions", "viewer width", [v.get("width", -1) for v in viewers])
    cols.numeric("dimensions", "viewer height", [v.get("height", -1) for v in viewers])
    cols.one_hot(
        "format",
        "viewer format",
        [
            " ".join([v.get("image_format", ""), v.get("image_mode", "")])
            + " ".join(_collapse(v.get("png_chunks", [])))
            for v in viewers
        ],
    )
    cols.numeric(
        "format", "viewer bytes after IEND", [v.get("trailing_bytes", -1) for v in viewers]
    )


def _int(value: str | None) -> float:
    try:
        return float(int(value or ""))
    except ValueError:
        return -1.0


def _integers(text: str) -> list[int]:
    return [int(run) for run in _DIGITS.findall(text)]


def _collapse(chunks: list[str]) -> list[str]:
    # IDAT splits depend on the encoder's buffer, counted separately.
    return [
        kind for i, kind in enumerate(chunks) if kind != "IDAT" or chunks[i - 1 : i] != ["IDAT"]
    ]
