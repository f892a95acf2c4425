"""gunicorn's settings for the web process, read from the environment (docs/deployment.md).

gunicorn loads this file from the working directory, so the Procfile's `gunicorn webapp.wsgi` and
`manage.py serve` run the same server. https://docs.gunicorn.org/en/stable/settings.html

| variable            | default        |                                                         |
| ------------------- | -------------- | ------------------------------------------------------- |
| HOST, PORT          | 127.0.0.1:8000 | where to listen (the reverse proxy connects here)       |
| WEB_CONCURRENCY     | 2              | worker processes: one per core                          |
| WEB_THREADS         | 4              | threads per worker: requests that wait on the database  |
| WEB_TIMEOUT         | 120            | seconds before a stuck request's worker is restarted    |
| FORWARDED_ALLOW_IPS | 127.0.0.1,::1  | proxies whose X-Forwarded-* headers gunicorn believes   |
"""

import os


def _count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name}={raw!r}: expected a whole number of at least 1")
    return int(raw)


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Threads, not more processes: a request mostly waits on the database or a file, and threads in
# one process share its database pool (DB_POOL_MAX_SIZE >= WEB_THREADS: no thread waits for one).
worker_class = "gthread"
workers = _count("WEB_CONCURRENCY", 2)
threads = _count("WEB_THREADS", 4)
# Staff upload datasets of up to MAX_UPLOAD_BYTES through this process.
timeout = _count("WEB_TIMEOUT", 120)
graceful_timeout = 30
# A worker is replaced now and then, so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
