"""The site the audit crawls: a URL it is given, or a server started in the audit's own process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.servers.basehttp import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
    get_internal_wsgi_application,
)
from django.db import connections
from django.http.request import validate_host

from quiz.integrity.leak_audit.errors import AuditError


@contextmanager
def site_to_crawl(base_url: str | None) -> Iterator[tuple[str, str | None]]:
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


class _QuietHandler(WSGIRequestHandler):
    # wsgiref writes the status line and each header separately: with Nagle's algorithm on, the
    # client's delayed ACK adds ~40 ms to every response, and the crawl takes minutes.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:
        pass
