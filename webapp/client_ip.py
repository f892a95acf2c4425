"""The client's IP address, for the staff login throttling (django-axes) and the quiz's rate limits.

Behind a reverse proxy every request comes from the proxy, so REMOTE_ADDR names the proxy and
the client's address travels in a header the proxy sets. CLIENT_IP_HEADER names that header as a
request.META key (`HTTP_X_REAL_IP`, `HTTP_X_FORWARDED_FOR`); unset, REMOTE_ADDR is the client.
Only set it when a proxy you run overwrites that header: a client can send any header it likes.
See docs/deployment.md.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN_CLIENT = "0.0.0.0"


def client_ip(request: HttpRequest) -> str:
    header = settings.CLIENT_IP_HEADER
    if header:
        # X-Forwarded-For is "client, proxy1, ...": a client may send its own, and the proxy appends
        # the address it saw, so the last entry is the one our proxy vouches for.
        value = request.META.get(header, "").rsplit(",", 1)[-1].strip()
        if _is_ip(value):
            return value
    # Without the header the request did not pass through the proxy (a health check on the
    # loopback, a request straight to gunicorn): the peer is the client. A peer with no address
    # (a Unix socket) shares one bucket with every other such request.
    peer = request.META.get("REMOTE_ADDR", "")
    return peer if _is_ip(peer) else UNKNOWN_CLIENT


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
