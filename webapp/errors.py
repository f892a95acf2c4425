"""The site's error pages (handler400 and handler500, webapp.urls).

A 400 says why a request was refused, in words that are safe to show anyone. Django's own handler
renders 400.html without the exception, so every refusal read as a bare "Bad Request". The reason
is chosen by the exception's class from fixed sentences, never taken from its message: messages
can quote the request (a file name, a Host header) or name settings, and on a participant's page
nothing but the pixels may tell a panel's truth.

A request that finds every connection of its process's PostgreSQL pool busy for DB_POOL_TIMEOUT
seconds (psycopg_pool.PoolTimeout, raised through Django as an OperationalError) is a moment of
overload, not a fault: it is answered 503 with Retry-After, and logged. Anything else is Django's
own 500. Django calls handler500 for an exception raised anywhere below the outermost middleware,
so this is the one place that sees them all.
"""

import logging
import sys

from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import (
    DisallowedHost,
    DisallowedRedirect,
    RequestDataTooBig,
    SuspiciousFileOperation,
    SuspiciousMultipartForm,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger(__name__)

# The first class the exception is an instance of gives the reason (subclasses come first).
REASONS: list[tuple[type[Exception], str]] = [
    (RequestDataTooBig, "The request is larger than this site accepts."),
    (TooManyFilesSent, "The form sent more files at once than this site accepts."),
    (TooManyFieldsSent, "The form sent more fields than this site accepts."),
    (SuspiciousFileOperation, "A file name in the request could not be used."),
    (SuspiciousMultipartForm, "The form's uploaded data could not be read."),
    (MultiPartParserError, "The form's uploaded data could not be read."),
    (DisallowedHost, "This site does not answer to the host name the request was sent to."),
    (DisallowedRedirect, "The request asked for a redirect this site does not make."),
    (
        SessionInterrupted,
        "Your session ended while this request was handled. Please go back and try again.",
    ),
]
UNKNOWN_REASON = "The request could not be understood."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: the 400 page with the reason for `exception`."""
    reason = next((text for kind, text in REASONS if isinstance(exception, kind)), UNKNOWN_REASON)
    return render(request, "400.html", {"reason": reason}, status=400)


# A connection returns to the pool when the request holding it ends: usually well within this.
RETRY_AFTER_SECONDS = 5


def server_error(request: HttpRequest) -> HttpResponse:
    timeout = _pool_timeout(sys.exc_info()[1])
    if timeout is None:
        return django_server_error(request)
    logger.warning(
        "Database connection pool exhausted, answered 503 to %s %s (%s); its size per process is "
        "DB_POOL_MAX_SIZE, docs/deployment.md",
        request.method,
        request.path,
        timeout,
    )
    # Rendered without the request: its context processors could ask the database again.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _pool_timeout(exc: BaseException | None) -> BaseException | None:
    """psycopg_pool's PoolTimeout in the chain of causes of `exc`, if there is one."""
    if exc is None:
        return None
    # Imported here: only a site on PostgreSQL has a pool, and only an error gets this far.
    from psycopg_pool import PoolTimeout

    while exc is not None:  # Django's OperationalError has psycopg's as its __cause__
        if isinstance(exc, PoolTimeout):
            return exc
        exc = exc.__cause__
    return None
