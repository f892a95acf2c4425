"""The crawl: take the quiz over HTTP as new participants do and observe every panel served.

Each participant consents, answers rounds at random and fetches every panel twice, and its
viewer rendition (the enlarged image an untimed round links from each panel's data-viewer)
once; an observation holds the panel's URL, position, the page source around it (tokens
blanked), and what its files say besides the pixels (quiz.integrity.leak_audit.observation).
"""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.urls import reverse

from quiz.integrity.audit_access import audit_token
from quiz.integrity.leak_audit.browser import REDIRECTS, Browser, Response
from quiz.integrity.leak_audit.errors import AuditError
from quiz.integrity.leak_audit.observation import PanelObservation, describe_file, header_map
from quiz.models import Study

# Without a leak the AUC is about 0.5 with a standard error of about 1 / sqrt(3 n) for n panels,
# half of them real; observations of one image are not quite independent, and permuting the kinds
# among the images of a clean crawl measured 0.017–0.024 at n = 1000 and 0.016–0.020 at 1500. At
# 2000 (≈ 0.015) a clean study fails the 0.55 rule with z ≈ 3.3, under 0.1 % of audits, and a
# leak worth an AUC of 0.6 fails the rule on the upper bound (± 0.03). The crawl costs ~20 ms a
# panel on a laptop-class CPU, well under a minute.
DEFAULT_OBSERVATIONS = 2000
# Sessions are as long as the study allows; a cap keeps one participant from seeing every image.
DEFAULT_MAX_ROUNDS = 20
# The random answers of the first crawl; each crawl again for more panels takes the next seed.
SEED = 0
# The page source kept on either side of a panel's <img> tag.
CONTEXT_CHARS = 300

_TOKENISH = re.compile(r"[A-Za-z0-9_-]{16,}")


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
        browser = Browser(base_url, host)
        try:
            session = _take_session(browser, start_path, round_path, max_rounds, rng, round_tokens)
        finally:
            browser.close()
        if not session:
            raise AuditError(f"a new participant was shown no panels at {round_path}")
        seen.extend(session)
    return seen[:observations]


def _take_session(
    browser: Browser,
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
    if consent.status not in REDIRECTS:
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
    browser: Browser, page: Response, form: dict, round_token: str, round_number: int
) -> list[PanelObservation]:
    source = page.text
    # A panel's token names its radios (panel-<token>), or side by side is the value of the
    # radio that chooses it in its pair (pair-<n>).
    tokens = [
        item["name"].removeprefix("panel-")
        if item.get("name", "").startswith("panel-")
        else item.get("value", "")
        for item in form["fields"]
        if item.get("type") == "radio" and item.get("name", "").startswith(("panel-", "pair-"))
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
    viewers = [_viewer(browser, image) for _, image in panels]
    observations = []
    for position, ((token, image), response, again, viewer) in enumerate(
        zip(panels, first, repeat, viewers, strict=True)
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
                repeat_headers_same=header_map(again) == header_map(response),
                viewer=viewer,
                **describe_file(response),
            )
        )
    return observations


def _viewer(browser: Browser, image: dict) -> dict | None:
    """What the panel's viewer rendition says besides its pixels, or None without a viewer."""
    if not image["viewer"]:
        return None
    response = browser.request("GET", urlsplit(image["viewer"]).path)
    return {**describe_file(response), "ttfb_s": response.ttfb_s}


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
                {
                    "src": values.get("src", ""),
                    "viewer": values.get("data-viewer", ""),
                    "start": start,
                    "end": start + len(raw),
                }
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

    Radios named panel-<token> get a random answer, and pair-<n> (side by side) a random one of
    the pair's two images; everything else its first or given value.
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
        data[name] = rng.choice(values) if name.startswith(("panel-", "pair-")) else values[0]
    return data
