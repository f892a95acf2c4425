"""An open round's page, drawn once and served again, in each web process, on every reload.

A round's page does not change while the round is open: its panels, letters, layout and
progress are fixed when the round opens. Only two things differ between requests, the CSRF
token (masked anew for each response) and the content security policy's nonce, so the stored
page has a marker in the place of each and each response fills them in.

Drawing the page (the template, and the query that reads its panels) was most of a reload's
time (docs/performance.md). A stored page is served only after the caller has checked, with one
small query, that the round is still this session's and still open; so a stored page can never
show a round that was answered, or a study that closed, and no process has to tell another to
forget one. So each process keeps its own pages, in a Django local-memory cache of this
module's own (bounded, least recently used first out): not the site's shared cache, which is
Redis or a database table, costs a round trip, and may be unreachable.

Not stored: a timed round's page (each view is counted, and a second view hides the images) and
a page sent back with an error or with the answers already chosen.
"""

from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

from quiz.models import Round

TEMPLATE = "quiz/round.html"
# Markers that no page can contain otherwise: letters and digits only, so that HTML escaping
# leaves them as they are wherever the template puts the value.
CSRF_MARKER = "csrfQ7vTn2markerXk4"
NONCE_MARKER = "nonceR8wLp3markerJm5"


# About 6 kB a page; a round open for longer than the timeout is drawn again.
_PAGES = LocMemCache("round-pages", {"TIMEOUT": 3600, "OPTIONS": {"MAX_ENTRIES": 2000}})


def _key(round_token: str) -> str:
    return f"round-page:{round_token}"


def draw(request: HttpRequest, round_: Round, context: dict) -> HttpResponse:
    """Render the round's page for this request, and keep it for the next reload if it may be.

    Only the round page's GET comes here: a page sent back with an error is rendered with its
    status by the caller and never kept."""
    if round_.exposure_limit_ms is not None:
        return HttpResponse(render_to_string(TEMPLATE, context, request))
    # The site's messages are never part of a stored page (none is queued on the quiz's pages;
    # a staff member's pending message stays for the next page).
    stored = render_to_string(
        TEMPLATE,
        {**context, "csrf_token": CSRF_MARKER, "CSP_NONCE": NONCE_MARKER, "messages": ()},
        request,
    )
    _PAGES.set(_key(round_.token), stored)
    return _fill(request, stored)


def stored(request: HttpRequest, round_token: str) -> HttpResponse | None:
    """The stored page of an open round (the caller checked it), or None if none is stored."""
    page = _PAGES.get(_key(round_token))
    return None if page is None else _fill(request, page)


def _fill(request: HttpRequest, page: str) -> HttpResponse:
    return HttpResponse(
        page.replace(CSRF_MARKER, get_token(request)).replace(NONCE_MARKER, str(request.csp_nonce))
    )
