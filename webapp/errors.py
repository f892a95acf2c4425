"""The answer to an exception no view handled (handler500, webapp.urls).

A request that finds every connection of its process's PostgreSQL pool busy for DB_POOL_TIMEOUT
seconds (psycopg_pool.PoolTimeout, raised through Django as an OperationalError) is a moment of
overload, not a fault: it is answered 503 with Retry-After, and logged. Anything else is Django's
own 500. Django calls this for an exception raised anywhere below the outermost middleware, so
this is the one place that sees them all.
"""

import logging
import sys

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger(__name__)

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
