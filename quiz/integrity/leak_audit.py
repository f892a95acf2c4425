"""The leak audit: take the quiz over HTTP as participants do, then try to tell real panels from
synthetic ones by everything a browser receives except the pixels.

A crawler consents, answers rounds at random and records, for every panel, its URL, position,
the page source around it, every response header, byte length, PNG chunk layout, dimensions
and time to first byte. A cross-validated classifier on those features estimates how well they
predict the panel's kind (ROC AUC, with a bootstrap 95% interval). A study whose panels differ
only in pixels scores about 0.5; docs/quiz-integrity.md describes each feature and the rule.

Before the crawl, the study's rules and the oracle check of its feedback policy
(quiz.integrity.oracle_check: how many sessions' pooled feedback reveal the truths) decide whether
it may
be published at all.
"""

from __future__ import annotations

import http.client
import logging
import math
import random
import re
import select
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from io import BytesIO
from urllib.parse import urlencode, urljoin, urlsplit

import numpy as np
from django.conf import settings
from django.core.servers.basehttp import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
    get_internal_wsgi_application,
)
from django.db import connections, transaction
from django.db.models import Q
from django.http.request import validate_host
from django.urls import reverse
from PIL import Image as PILImage

from quiz.integrity.audit_access import audit_token
from quiz.integrity.oracle_check import oracle_rule, study_oracle_check
from quiz.jobs import Lease
from quiz.models import ImageKind, LeakAudit, Participant, RoundPanel, Study
from quiz.studies.design import DesignError
from quiz.studies.panels import PanelRenderError, render_study_panels
from quiz.studies.rules import near_copy_pairs, study_problems, study_warnings

log = logging.getLogger(__name__)

# The rule a study must meet: the classifier's cross-validated AUC is at most AUC_MAX and the
# upper end of its 95% interval at most AUC_UPPER_MAX.
AUC_MAX = 0.55
AUC_UPPER_MAX = 0.60

# Without a leak the AUC is about 0.5 with a standard error of about 1 / sqrt(3 n) for n panels,
# half of them real; observations of one image are not quite independent, and permuting the kinds
# among the images of a clean crawl measured 0.017–0.024 at n = 1000 and 0.016–0.020 at 1500. At
# 2000 (≈ 0.015) a clean study fails the 0.55 rule with z ≈ 3.3, under 0.1 % of audits, and a
# leak worth an AUC of 0.6 fails the rule on the upper bound (± 0.03). The crawl costs ~20 ms a
# panel on a laptop-class CPU, well under a minute.
DEFAULT_OBSERVATIONS = 2000
# Sessions are as long as the study allows; a cap keeps one participant from seeing every image.
DEFAULT_MAX_ROUNDS = 20
BOOTSTRAP_RESAMPLES = 2000
CV_FOLDS = 5
SEED = 0
CONTEXT_CHARS = 300
# A group's own classifier above this AUC is named in the report as separating the classes.
GROUP_FINDING_AUC = 0.6

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

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TOKENISH = re.compile(r"[A-Za-z0-9_-]{16,}")
_DIGITS = re.compile(r"\d+")
_CONTEXT_INTEGERS = 4
_REDIRECTS = {301, 302, 303, 307, 308}


class AuditError(Exception):
    """The crawl could not take the quiz; the message says where it stopped."""


@dataclass
class PanelObservation:
    """Everything the crawler saw of one panel except its pixels."""

    token: str
    round_token: str
    url_path: str
    position: int
    panels_on_page: int
    round_number: int
    # The page source around the <img> tag; panel, round and CSRF tokens replaced by markers.
    context_before: str
    tag: str
    context_after: str
    status: int
    headers: dict[str, str]
    body_length: int
    content_type: str
    png_chunks: list[str]
    ihdr: dict[str, int]
    trailing_bytes: int
    image_format: str
    image_mode: str
    width: int
    height: int
    ttfb_first_s: float
    ttfb_repeat_s: float
    repeat_status: int
    repeat_length: int
    repeat_headers_same: bool


# The crawler ------------------------------------------------------------------------------------


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    ttfb_s: float
    path: str

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _Browser:
    """One participant: a keep-alive connection to the site and that participant's cookies."""

    def __init__(self, base_url: str, host: str | None) -> None:
        parts = urlsplit(base_url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self.connection = connection_class(parts.hostname, parts.port, timeout=60)
        self.host = host or parts.netloc
        self.cookies: dict[str, str] = {}
        self.proxy_headers: dict[str, str] = {}
        scheme = parts.scheme
        if host is not None and settings.SECURE_PROXY_SSL_HEADER:
            # The audit's own server (a Host is given for it only) stands where production's
            # TLS proxy hands requests to the site, so the audit adds the proxy's header, as the
            # proxy does for every participant: without it the site redirects to https.
            name, value = settings.SECURE_PROXY_SSL_HEADER
            self.proxy_headers[name.removeprefix("HTTP_").replace("_", "-")] = value
            scheme = "https"
        # A browser names the page's origin on every form POST; over https Django's CSRF check
        # refuses a POST without it.
        self.origin = f"{scheme}://{self.host}"

    def close(self) -> None:
        self.connection.close()

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> _Response:
        headers = {
            "Host": self.host,
            "User-Agent": "real-or-synthetic leak audit",
            **self.proxy_headers,
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
        try:
            return self._send(method, path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
            # The server closed an idle keep-alive connection: reconnect once.
            self.connection.close()
            return self._send(method, path, body, headers)

    def _send(self, method: str, path: str, body: str | None, headers: dict) -> _Response:
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        # The first byte: the socket turns readable (headers may trickle in after it).
        select.select([self.connection.sock], [], [], self.connection.timeout)
        ttfb = time.perf_counter() - started
        response = self.connection.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        return _Response(response.status, list(response.getheaders()), data, ttfb, path)

    def get_following(self, path: str) -> _Response:
        """GET, following same-site redirects (a few at most)."""
        response = self.request("GET", path)
        for _ in range(5):
            if response.status not in _REDIRECTS:
                break
            location = urlsplit(urljoin(path, response.header("Location")))
            if location.netloc and location.netloc != self.host:
                break
            path = location.path + (f"?{location.query}" if location.query else "")
            response = self.request("GET", path)
        return response


class _PageParser(HTMLParser):
    """Forms with their fields, and every <img> with its offsets in the page source."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.images: list[dict] = []
        self._line_starts = [0]
        for line in source.splitlines(keepends=True):
            self._line_starts.append(self._line_starts[-1] + len(line))
        self._form: dict | None = None
        self._select: dict | None = None
        self.feed(source)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img":
            start = self._offset()
            raw = self.get_starttag_text() or ""
            self.images.append(
                {"src": values.get("src", ""), "start": start, "end": start + len(raw)}
            )
        elif tag == "form":
            self._form = {"attrs": values, "fields": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in {"input", "textarea", "button"}:
            self._form["fields"].append({"tag": tag, **values})
        elif self._form is not None and tag == "select":
            self._select = {"tag": "select", "name": values.get("name", ""), "options": []}
            self._form["fields"].append(self._select)
        elif self._select is not None and tag == "option":
            self._select["options"].append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _fill(form: dict, rng: random.Random) -> dict[str, str]:
    """Values a participant could send: consent boxes ticked, the first choice of every list.

    Radios named panel-<token> get a random answer; everything else its first or given value.
    """
    data: dict[str, str] = {}
    radios: dict[str, list[str]] = {}
    for item in form["fields"]:
        name = item.get("name", "")
        kind = item.get("type", "text").lower()
        if not name or item["tag"] == "button" or kind in {"submit", "button", "reset", "image"}:
            continue
        if item["tag"] == "select":
            data[name] = next((option for option in item["options"] if option), "")
        elif kind == "radio":
            radios.setdefault(name, []).append(item.get("value", "on"))
        elif kind == "checkbox":
            data[name] = item.get("value") or "on"
        elif kind == "number":
            data[name] = item.get("value") or "1"
        else:
            data[name] = item.get("value", "")
    for name, values in radios.items():
        data[name] = rng.choice(values) if name.startswith("panel-") else values[0]
    return data


def collect(
    base_url: str,
    study: Study,
    *,
    observations: int = DEFAULT_OBSERVATIONS,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    host: str | None = None,
    round_tokens: set[str] | None = None,
    seed: int = SEED,
) -> list[PanelObservation]:
    """Take the quiz at base_url as new participants until `observations` panels were seen.

    Needs no database: everything comes over HTTP. `round_tokens` collects the round token of
    every round served, so the caller can delete the sessions it drove even after a failure.
    """
    rng = random.Random(seed)
    start_path = f"{reverse('quiz:start', args=[study.slug])}?audit={audit_token(study)}"
    round_path = reverse("quiz:round", args=[study.slug])
    seen: list[PanelObservation] = []
    while len(seen) < observations:
        browser = _Browser(base_url, host)
        try:
            session = _take_session(browser, start_path, round_path, max_rounds, rng, round_tokens)
        finally:
            browser.close()
        if not session:
            raise AuditError(f"a new participant was shown no panels at {round_path}")
        seen.extend(session)
    return seen[:observations]


def _take_session(
    browser: _Browser,
    start_path: str,
    round_path: str,
    max_rounds: int,
    rng: random.Random,
    round_tokens: set[str] | None,
) -> list[PanelObservation]:
    start = browser.get_following(start_path)
    forms = [
        f for f in _PageParser(start.text).forms if f["attrs"].get("method", "").lower() == "post"
    ]
    if start.status != 200 or not forms:
        raise AuditError(
            f"GET {start.path} answered {start.status} without a consent form: the start page "
            "must serve an unpublished study to ?audit=<quiz.integrity.audit_access.audit_token>"
        )
    form = forms[0]
    consent = browser.request("POST", form["attrs"].get("action") or start.path, _fill(form, rng))
    if consent.status not in _REDIRECTS:
        raise AuditError(f"the consent form at {start.path} was refused ({consent.status})")
    observations: list[PanelObservation] = []
    for round_number in range(max_rounds):
        page = browser.get_following(round_path)
        form = next(
            (f for f in _PageParser(page.text).forms if f["attrs"].get("id") == "round-form"), None
        )
        if page.path.split("?")[0] != round_path or page.status != 200 or form is None:
            if round_number == 0:
                raise AuditError(
                    f"GET {round_path} answered {page.status} at {page.path} without a round "
                    "form for a participant who just consented"
                )
            break  # the session is over
        action = form["attrs"].get("action", "")
        round_token = action.rstrip("/").rsplit("/", 1)[-1]
        if round_tokens is not None:
            round_tokens.add(round_token)
        observations.extend(_observe_round(browser, page, form, round_token, round_number))
        browser.request("POST", action or round_path, _fill(form, rng))
    return observations


def _observe_round(
    browser: _Browser, page: _Response, form: dict, round_token: str, round_number: int
) -> list[PanelObservation]:
    source = page.text
    tokens = [
        item["name"].removeprefix("panel-")
        for item in form["fields"]
        if item.get("type") == "radio" and item.get("name", "").startswith("panel-")
    ]
    tokens = list(dict.fromkeys(tokens))
    images = _PageParser(source).images
    panels = []
    for token in tokens:
        image = next((image for image in images if token in image["src"]), None)
        if image is not None:
            panels.append((token, image))
    panels.sort(key=lambda item: item[1]["start"])
    csrf = [
        item.get("value", "")
        for item in form["fields"]
        if item.get("name") == "csrfmiddlewaretoken"
    ]
    blanks = [(round_token, "{round}"), *((value, "{csrf}") for value in csrf if value)]

    def blanked(text: str, own: str) -> str:
        text = text.replace(own, "{self}")
        for other in tokens:
            text = text.replace(other, "{other}")
        for value, marker in blanks:
            text = text.replace(value, marker)
        return _TOKENISH.sub("{random}", text)

    first = [browser.request("GET", urlsplit(image["src"]).path) for _, image in panels]
    repeat = [browser.request("GET", urlsplit(image["src"]).path) for _, image in panels]
    observations = []
    for position, ((token, image), response, again) in enumerate(
        zip(panels, first, repeat, strict=True)
    ):
        start, end = image["start"], image["end"]
        observations.append(
            PanelObservation(
                token=token,
                round_token=round_token,
                url_path=urlsplit(image["src"]).path,
                position=position,
                panels_on_page=len(panels),
                round_number=round_number,
                context_before=blanked(source[max(0, start - CONTEXT_CHARS) : start], token),
                tag=blanked(source[start:end], token),
                context_after=blanked(source[end : end + CONTEXT_CHARS], token),
                ttfb_first_s=response.ttfb_s,
                ttfb_repeat_s=again.ttfb_s,
                repeat_status=again.status,
                repeat_length=len(again.body),
                repeat_headers_same=_header_map(again) == _header_map(response),
                **_describe_file(response),
            )
        )
    return observations


def _header_map(response: _Response) -> dict[str, str]:
    # Date is the only header that may honestly differ between two fetches of one file.
    return {name.lower(): value for name, value in response.headers if name.lower() != "date"}


def _describe_file(response: _Response) -> dict:
    data = response.body
    chunks, ihdr, trailing = _png_layout(data)
    try:
        with PILImage.open(BytesIO(data)) as image:
            image_format, image_mode, (width, height) = image.format or "", image.mode, image.size
    except Exception:  # not an image at all: that, too, is a feature
        image_format, image_mode, width, height = "unreadable", "", 0, 0
    if ihdr:
        width, height = ihdr["width"], ihdr["height"]
    return {
        "status": response.status,
        "headers": _header_map(response),
        "body_length": len(data),
        "content_type": response.header("Content-Type"),
        "png_chunks": chunks,
        "ihdr": ihdr,
        "trailing_bytes": trailing,
        "image_format": image_format,
        "image_mode": image_mode,
        "width": width,
        "height": height,
    }


def _png_layout(data: bytes) -> tuple[list[str], dict[str, int], int]:
    """Chunk types in order, the IHDR fields, and the bytes after IEND (all empty if not PNG)."""
    if not data.startswith(_PNG_SIGNATURE):
        return [], {}, 0
    chunks: list[str] = []
    ihdr: dict[str, int] = {}
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        chunks.append(kind)
        if kind == "IHDR" and length == 13:
            fields = struct.unpack(">IIBBBBB", data[offset + 8 : offset + 21])
            names = (
                "width",
                "height",
                "bit_depth",
                "color_type",
                "compression",
                "filter",
                "interlace",
            )
            ihdr = dict(zip(names, fields, strict=True))
        offset += 12 + length
        if kind == "IEND":
            break
    return chunks, ihdr, max(0, len(data) - offset)


# Features ---------------------------------------------------------------------------------------


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


# The classifier ---------------------------------------------------------------------------------


@dataclass
class Classification:
    auc: float
    ci95: tuple[float, float]
    by_group: dict[str, float | None]
    observations: int

    @property
    def passed(self) -> bool:
        return self.auc <= AUC_MAX and self.ci95[1] <= AUC_UPPER_MAX


def classify(matrix: FeatureMatrix, y: np.ndarray, groups_by_image: np.ndarray) -> Classification:
    """Cross-validated ROC AUC of predicting y (1 = real) from the features, with a 95% CI.

    Folds hold out whole images, so a per-image constant (a hash, an id) cannot be memorised:
    only what generalises to unseen images of a kind counts as a leak. The interval is a
    percentile bootstrap over observations of the out-of-fold scores. Each feature group is
    also scored alone, so a failure names the channel that leaks.
    """
    y = np.asarray(y, dtype=int)
    groups_by_image = np.asarray(groups_by_image)
    scores = _out_of_fold_scores(matrix.X, y, groups_by_image)
    auc = _auc(y, scores)
    ci95 = _bootstrap_ci(y, scores)
    by_group: dict[str, float | None] = {}
    for group in FEATURE_GROUPS:
        columns = [i for i, g in enumerate(matrix.groups) if g == group]
        if columns:
            by_group[group] = _auc(y, _out_of_fold_scores(matrix.X[:, columns], y, groups_by_image))
        else:
            by_group[group] = None  # constant over every panel: it cannot separate anything
    return Classification(auc=auc, ci95=ci95, by_group=by_group, observations=len(y))


def _out_of_fold_scores(X: np.ndarray, y: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    per_class = min(len(set(image_ids[y == 1])), len(set(image_ids[y == 0])))
    if per_class < 2:
        raise AuditError("the audit needs panels of at least two real and two synthetic images")
    # Imported here: scikit-learn loads scipy, which only the process that audits needs
    # (tests/quiz/web/test_web_process_imports.py keeps the web process light).
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedGroupKFold

    scores = np.full(len(y), 0.5)
    if X.shape[1] == 0:
        return scores
    folds = StratifiedGroupKFold(n_splits=min(CV_FOLDS, per_class), shuffle=True, random_state=SEED)
    for train, test in folds.split(X, y, image_ids):
        # 50 trees: fitting is mostly per-tree overhead at these sizes, and more trees barely
        # move the AUC; one job, since threads cost more than they save on a few thousand rows.
        model = RandomForestClassifier(
            n_estimators=50, min_samples_leaf=2, random_state=SEED, n_jobs=1
        )
        model.fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return scores


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    return float(_auc_rows(y[None, :], scores[None, :])[0])


def _auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Mann–Whitney AUC of each row (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)
    positives = y.sum(axis=1)
    negatives = y.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.sum(ranks * y, axis=1) - positives * (positives + 1) / 2) / (
            positives * negatives
        )


def _bootstrap_ci(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(SEED)
    rows = rng.integers(0, len(y), size=(BOOTSTRAP_RESAMPLES, len(y)))
    aucs = _auc_rows(y[rows], scores[rows])
    aucs = aucs[np.isfinite(aucs)]
    low, high = np.percentile(aucs, [2.5, 97.5])
    return float(low), float(high)


# The job ----------------------------------------------------------------------------------------


def audit(
    audit: LeakAudit,
    lease: Lease,
    base_url: str | None = None,
    *,
    observations: int | None = None,
    max_rounds: int | None = None,
) -> None:
    """Audit the study: its rules, then the crawl and the classifier; publish on pass if asked.

    Crawls base_url, or a server started in this process when none is given. An error fails the
    audit with the reason, and the report keeps what was found before it.
    """
    study = audit.study
    report: dict = {"problems": [], "thresholds": {"auc": AUC_MAX, "ci95_upper": AUC_UPPER_MAX}}
    round_tokens: set[str] = set()
    passed = False
    try:
        with lease.kept_alive():
            # The memorisation guard's pairs are kept for the staff page that shows them.
            report["near_copies"] = near_copy_pairs(study)
            report["problems"] = study_problems(study, near_copies=report["near_copies"])
            report["warnings"] = study_warnings(study)
            if not report["problems"]:
                try:
                    render_study_panels(study)
                except PanelRenderError as exc:
                    report["problems"].append(str(exc))
            crawl = not report["problems"]
            # Beside the crawl, not before it: staff see what is wrong with the policy and the
            # pages in one audit.
            _check_oracle(study, report)
            if crawl:
                with _server(base_url) as (url, host):
                    result, summary = _crawl_and_classify(
                        study,
                        url,
                        host,
                        observations or DEFAULT_OBSERVATIONS,
                        max_rounds or DEFAULT_MAX_ROUNDS,
                        round_tokens,
                    )
                report.update(summary)
                passed = result.passed and not report["problems"]
    except Exception:
        lease.update(report=report)
        raise
    finally:
        _delete_audit_participants(study, round_tokens)
    with transaction.atomic():
        lease.update(passed=passed, report=report)
        if passed and audit.publish_on_pass:
            Study.objects.filter(pk=study.pk).update(is_published=True)


def _check_oracle(study: Study, report: dict) -> None:
    """The feedback policy's oracle check (quiz.integrity.oracle_check), into the report."""
    try:
        result = study_oracle_check(study)
    except DesignError:
        return  # the study cannot fill its sessions: study_problems has said so
    report["oracle"] = {**result.as_dict(), "summary": result.summary()}
    problems, warnings = oracle_rule(study, result)
    report["problems"] += problems
    report["warnings"] += warnings


def _crawl_and_classify(
    study: Study, url: str, host: str | None, wanted: int, max_rounds: int, round_tokens: set[str]
) -> tuple[Classification, dict]:
    labelled: list[tuple[PanelObservation, int, int]] = []
    crawled = 0
    # Practice and catch panels do not count: crawl again for the share they took.
    for attempt in range(3):
        kept_share = len(labelled) / crawled if crawled else 1.0
        batch = math.ceil((wanted - len(labelled)) / max(kept_share, 0.1))
        observed = collect(
            url,
            study,
            observations=batch,
            max_rounds=max_rounds,
            host=host,
            round_tokens=round_tokens,
            seed=SEED + attempt,
        )
        crawled += len(observed)
        labelled += _label(observed)
        if len(labelled) >= wanted:
            break
    labelled = labelled[:wanted]
    matrix = features([o for o, _, _ in labelled])
    y = np.array([kind for _, kind, _ in labelled])
    result = classify(matrix, y, np.array([image for _, _, image in labelled]))
    findings = [
        f"{group} separates real from synthetic panels: AUC {auc:.2f}"
        for group, auc in sorted(result.by_group.items(), key=lambda item: -(item[1] or 0))
        if auc is not None and auc > GROUP_FINDING_AUC
    ]
    return result, {
        "auc": round(result.auc, 4),
        "ci95": [round(result.ci95[0], 4), round(result.ci95[1], 4)],
        "observations": result.observations,
        "real": int(y.sum()),
        "synthetic": int(len(y) - y.sum()),
        "images": len({image for _, _, image in labelled}),
        "columns": len(matrix.names),
        "by_group": {
            g: (round(a, 4) if a is not None else None) for g, a in result.by_group.items()
        },
        "findings": findings,
    }


def _label(observations: list[PanelObservation]) -> list[tuple[PanelObservation, int, int]]:
    """(observation, 1 if real else 0, image id) for the test trials; practice and catch dropped."""
    truth = {
        token: (kind, image_id)
        for token, kind, image_id in RoundPanel.objects.filter(
            token__in=[o.token for o in observations], is_catch=False, round__is_practice=False
        ).values_list("token", "image__kind", "image_id")
    }
    return [
        (o, int(truth[o.token][0] == ImageKind.REAL), truth[o.token][1])
        for o in observations
        if o.token in truth
    ]


def _delete_audit_participants(study: Study, round_tokens: set[str]) -> None:
    # Rows the start view marked, and any session the crawler drove (a view that does not yet
    # mark audit participants still leaves none behind).
    ids = set(
        Participant.objects.filter(study=study)
        .filter(Q(is_audit=True) | Q(rounds__token__in=round_tokens))
        .values_list("pk", flat=True)
    )
    Participant.objects.filter(pk__in=ids).delete()


class _QuietHandler(WSGIRequestHandler):
    # wsgiref writes the status line and each header separately: with Nagle's algorithm on, the
    # client's delayed ACK adds ~40 ms to every response, and the crawl takes minutes.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:
        pass


@contextmanager
def _server(base_url: str | None) -> Iterator[tuple[str, str | None]]:
    """(URL, Host header) of the site to crawl: base_url, or a server started in this process."""
    if base_url:
        yield base_url, None
        return
    # An in-memory SQLite database (tests) is only visible to other threads through the very
    # same connection, as Django's live server does it.
    shared = {
        connection.alias: connection
        for connection in connections.all()
        if connection.vendor == "sqlite" and connection.is_in_memory_db()
    }
    for connection in shared.values():
        connection.inc_thread_sharing()
    server = ThreadedWSGIServer(
        ("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False, connections_override=shared
    )
    server.set_app(get_internal_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, name="leak-audit-server", daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield f"http://127.0.0.1:{port}", _host_header(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        for connection in shared.values():
            connection.dec_thread_sharing()


def _host_header(port: int) -> str:
    """A Host header ALLOWED_HOSTS accepts for a server on 127.0.0.1 (the name need not resolve)."""
    allowed = settings.ALLOWED_HOSTS
    if not allowed and settings.DEBUG:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    if validate_host("127.0.0.1", allowed):
        return f"127.0.0.1:{port}"
    for pattern in allowed:
        name = pattern.lstrip(".")
        if name and name != "*" and validate_host(name, allowed):
            return name
    raise AuditError("ALLOWED_HOSTS admits no host name the audit's own server can be reached by")


def describe(audit: LeakAudit) -> list[str]:
    """The audit's result as lines of text, for the command line and logs."""
    report = audit.report or {}
    verdict = {True: "PASS", False: "FAIL"}.get(audit.passed, audit.status.upper())
    lines = [f"Leak audit of {audit.study}: {verdict}"]
    if audit.error:
        lines.append(f"  error: {audit.error}")
    lines += [f"  problem: {problem}" for problem in report.get("problems", [])]
    lines += [f"  warning: {warning}" for warning in report.get("warnings", [])]
    if report.get("oracle"):
        lines.append(f"  {report['oracle']['summary']}")
    if report.get("auc") is not None:
        low, high = report["ci95"]
        thresholds = report["thresholds"]
        lines.append(
            f"  {report['observations']} panels ({report['real']} real, "
            f"{report['synthetic']} synthetic) of {report['images']} images, "
            f"{report['columns']} varying feature columns"
        )
        lines.append(
            f"  ROC AUC {report['auc']:.3f} (95% CI {low:.3f}–{high:.3f}); passes at "
            f"≤ {thresholds['auc']:.2f} with the upper bound ≤ {thresholds['ci95_upper']:.2f}"
        )
        lines.append("  AUC of each feature group alone:")
        for group, auc in report["by_group"].items():
            lines.append(f"    {group:<15} {'constant' if auc is None else f'{auc:.3f}'}")
        lines += [f"  {finding}" for finding in report.get("findings", [])]
    return lines
