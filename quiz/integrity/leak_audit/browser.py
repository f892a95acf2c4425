"""One simulated participant's browser: a keep-alive HTTP connection to the site and its cookies.

Plain `http.client`, so every byte and header the site sends reaches the audit as a browser
would receive it, with the time to the first byte of each response.
"""

from __future__ import annotations

import http.client
import select
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings

REDIRECTS = {301, 302, 303, 307, 308}


@dataclass
class Response:
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


class Browser:
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

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
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

    def _send(self, method: str, path: str, body: str | None, headers: dict) -> Response:
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
        return Response(response.status, list(response.getheaders()), data, ttfb, path)

    def get_following(self, path: str) -> Response:
        """GET, following same-site redirects (a few at most)."""
        response = self.request("GET", path)
        for _ in range(5):
            if response.status not in REDIRECTS:
                break
            location = urlsplit(urljoin(path, response.header("Location")))
            if location.netloc and location.netloc != self.host:
                break
            path = location.path + (f"?{location.query}" if location.query else "")
            response = self.request("GET", path)
        return response
