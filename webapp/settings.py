"""Settings, read from the environment with defaults that work on one machine with nothing set up.

Production (DEBUG=0) needs SECRET_KEY and ALLOWED_HOSTS; docs/deployment.md has the whole list.

| variable              | default                                                         |
| --------------------- | --------------------------------------------------------------- |
| SECRET_KEY            | a development key; required when DEBUG=0                        |
| DEBUG                 | true                                                            |
| ALLOWED_HOSTS         | localhost,127.0.0.1,[::1]                                       |
| CSRF_TRUSTED_ORIGINS  | none (e.g. https://quiz.example.org)                            |
| HTTPS                 | on when DEBUG=0: HSTS, secure cookies, redirect to https        |
| HSTS_SECONDS          | 31536000 (one year)                                             |
| DATABASE_URL          | sqlite:///var/db.sqlite3 (WAL)                                  |
| DB_POOL_MIN_SIZE      | 1    (PostgreSQL: connections each process keeps open)         |
| DB_POOL_MAX_SIZE      | 4    (PostgreSQL: the most each process opens)                 |
| DB_POOL_TIMEOUT       | 10   (PostgreSQL: seconds a request waits for a connection)    |
| REDIS_URL             | unset: the embedded filesystem broker, the database cache       |
| MEDIA_ROOT            | var/media                                                       |
| VAR_DIR               | var (SQLite file, broker queue, media, collected static files)  |
| CLIENT_IP_HEADER      | unset: REMOTE_ADDR (behind a proxy: HTTP_X_REAL_IP)             |
| QUIZ_SUBMIT_RATE      | 30/m (round submissions per participant)                        |
| QUIZ_START_RATE       | 20/m (consents per client IP)                                   |
| AXES_FAILURE_LIMIT    | 5    (failed staff logins per username and IP before a lockout) |
| AXES_COOLOFF_MINUTES  | 15                                                              |
| AWS_STORAGE_BUCKET_NAME | unset: files under MEDIA_ROOT; set: this private S3 bucket |
| AWS_S3_ENDPOINT_URL   | unset: AWS itself; e.g. http://127.0.0.1:8080 (Swift, MinIO, Ceph) |
| AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY | unset: boto3's own chain (instance role, ~/.aws) |
| AWS_S3_REGION_NAME    | unset: boto3's default region                                   |
| AWS_LOCATION          | unset: a key prefix inside the bucket                           |
| JOB_*, SCRATCH_DIR    | background jobs' leases and intervals: docs/operations.md       |
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number of at least {minimum}")
    return int(raw)


def _env_rate(name: str, default: str) -> str:
    # django-ratelimit's syntax: a count per period, e.g. 30/m, 100/h, 5/10s.
    rate = os.environ.get(name, "").strip() or default
    if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", rate):
        raise ImproperlyConfigured(f"{name}={rate!r}: expected a rate such as 30/m, 100/h or 5/10s")
    return rate


VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

DEBUG = _env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # A site that signs sessions and audit tokens with a published key can be impersonated.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG=0 the site needs a secret key of its own, e.g. "
            "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
# Origins (scheme://host) allowed to POST forms when they differ from the Host a request names.
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_ratelimit",
    "quiz",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# https://github.com/jazzband/dj-database-url#url-schema
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    # WAL lets the web server read while a worker writes progress; IMMEDIATE transactions and a
    # timeout turn writer contention into waiting instead of "database is locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Each thread keeps its connection: opening one (the file, the WAL index, the PRAGMAs, the
    # schema) cost more than the round page's queries (docs/performance.md).
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # A file (not :memory:) so that a Celery worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # One psycopg pool per process (each gunicorn worker, each Celery worker process): a process
    # never holds more than DB_POOL_MAX_SIZE connections, however many requests arrive, so
    # (processes x DB_POOL_MAX_SIZE) bounds the server's connections. Sizing: docs/deployment.md.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
    _pool_min = _env_int("DB_POOL_MIN_SIZE", 1)
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {
            "min_size": _pool_min,
            "max_size": _env_int("DB_POOL_MAX_SIZE", 4, minimum=max(1, _pool_min)),
            "timeout": _env_int("DB_POOL_TIMEOUT", 10, minimum=1),
        },
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]


def redis_cache(url: str) -> dict:
    """The site's cache on the Redis at `url` (django-redis), which a lost Redis never breaks.

    With Redis unreachable a read is a miss, a write is dropped and an increment fails, each logged
    in one line (logger django_redis.cache, webapp.cache.OneLineCacheFailure) instead of raised:
    the statistics report is computed without its cache, and the rate limits let requests through
    (RATELIMIT_FAIL_OPEN).
    The timeouts keep a Redis that hangs without refusing from holding each request for redis-py's
    default 5 s per command. https://github.com/jazzband/django-redis#memcached-exceptions-behavior
    """
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "IGNORE_EXCEPTIONS": True,
            # Seconds: a healthy Redis answers in about a millisecond, even with a large report.
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
        },
    }


DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Django's database sessions, read with a statement built once (webapp/sessions.py).
SESSION_ENGINE = "webapp.sessions"

# Shared by every web worker, so that a rate limit means the same in all of them (and the
# statistics report, quiz.analysis.reports, is computed once per study state). Redis when there is
# one; otherwise a database table (`manage.py createcachetable`, run by `make setup`).
if os.environ.get("REDIS_URL"):
    CACHES = {"default": redis_cache(os.environ["REDIS_URL"])}
else:
    CACHES = {
        "default": {"BACKEND": "webapp.cache.AtomicDatabaseCache", "LOCATION": "django_cache"}
    }

# The client's address behind a reverse proxy (webapp/client_ip.py), for axes and ratelimit.
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "").strip()

# Staff login throttling: https://django-axes.readthedocs.io/en/latest/4_configuration.html
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# Per username and address: a guesser is stopped without locking the account for everyone else.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "webapp.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"

# Quiz rate limits (quiz/views/participant.py): https://django-ratelimit.readthedocs.io/
QUIZ_SUBMIT_RATE = _env_rate("QUIZ_SUBMIT_RATE", "30/m")
QUIZ_START_RATE = _env_rate("QUIZ_START_RATE", "20/m")
RATELIMIT_IP_META_KEY = "webapp.client_ip.client_ip"
# A count the cache could not give (Redis unreachable: redis_cache above) lets the request through
# rather than refusing every participant; the cache logs each failure.
RATELIMIT_FAIL_OPEN = True
SILENCED_SYSTEM_CHECKS = [
    # "not officially supported": it cannot know webapp.cache.AtomicDatabaseCache, whose incr is
    # made atomic.
    "django_ratelimit.W001",
]


# Content security policy (django-csp 4): everything from this site, no inline script at all, and
# inline style only where a template sets a per-page value under the request's nonce.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Production: behind a TLS-terminating reverse proxy (docs/deployment.md). HTTPS=0 turns all of
# this off for a loopback benchmark that speaks plain HTTP; it is not for a public site.
HTTPS = _env_bool("HTTPS", not DEBUG)
if HTTPS:
    # The proxy speaks TLS to the browser and plain HTTP to gunicorn; it says which in this header
    # (and must overwrite it, never pass a client's through).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Browsers then refuse plain HTTP to this host for HSTS_SECONDS: start lower on a new domain.
    SECURE_HSTS_SECONDS = _env_int("HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# Collected by `make setup` (collectstatic) and served by WhiteNoise from the web process, also
# with DEBUG=0; with DEBUG on WhiteNoise reads the source folders directly.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# Media is never served by URL: real and synthetic files would be told apart by their paths.
# Staff views and the quiz's panel view stream them instead. With AWS_STORAGE_BUCKET_NAME set,
# stored files live in that bucket, private (webapp/storage.py, docs/object-storage.md).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
    from webapp.storage import s3_storage

    STORAGES["default"] = s3_storage(
        bucket=os.environ["AWS_STORAGE_BUCKET_NAME"],
        endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL", ""),
        access_key=os.environ.get("AWS_ACCESS_KEY_ID", ""),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        region=os.environ.get("AWS_S3_REGION_NAME", ""),
        location=os.environ.get("AWS_LOCATION", ""),
    )

# Uploads: reject oversized requests early; each file's own limits live in quiz.ingest.sources.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", 1024 * 1024 * 1024))
DATA_UPLOAD_MAX_NUMBER_FILES = 2000
# Seconds the field-of-view search may spend on one file before it falls back to a simpler
# method (quiz.ingest.field_of_view); the ingest task's own limit is in JOB_TIME_LIMITS.
INGEST_CROP_BUDGET_SECONDS = float(os.environ.get("INGEST_CROP_BUDGET_SECONDS", 2.0))

LOGIN_URL = "admin:login"

# Background jobs (quiz.jobs, docs/operations.md). The row of each job is its record and the broker
# only a trigger, so no result backend. A running attempt holds a lease that its heartbeats renew;
# beat's reconciler re-queues a job whose lease lapsed, re-sends every queued job when the broker
# lost its marker (restarted without persistence), and re-sends a queued job whose send failed or
# whose message is older than JOB_RESEND_SECONDS.
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", 90))
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", 5))
JOB_RESEND_SECONDS = float(os.environ.get("JOB_RESEND_SECONDS", 300))
JOB_RECONCILE_SECONDS = float(os.environ.get("JOB_RECONCILE_SECONDS", 30))
JOB_MAX_LOST_LEASES = int(os.environ.get("JOB_MAX_LOST_LEASES", 3))
# Hard time limits per task (seconds); the soft limit 60 s earlier lets a job record why it stopped.
JOB_TIME_LIMITS = {
    "quiz.tasks.ingest_upload": int(os.environ.get("INGEST_TIME_LIMIT", 2 * 3600)),
    # A generator's images are read as real ones are, less the crop: the same limit.
    "quiz.tasks.import_synthetic": int(os.environ.get("INGEST_TIME_LIMIT", 2 * 3600)),
    "quiz.tasks.train_run": int(os.environ.get("TRAINING_TIME_LIMIT", 7 * 24 * 3600)),
    "quiz.tasks.generate_images": 12 * 3600,
    "quiz.tasks.evaluate_run": 12 * 3600,
    "quiz.tasks.audit_study": 4 * 3600,
    "quiz.tasks.reconcile_jobs": 300,
}
SCRATCH_DIR = Path(os.environ.get("SCRATCH_DIR", VAR_DIR / "scratch"))

# Celery: https://docs.celeryq.dev/en/stable/userguide/configuration.html
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Redis re-delivers an unacknowledged message after the visibility timeout: keep it above the
    # longest time limit, so a job still running is never handed to a second worker by Redis
    # (leases, not redelivery, recover a job whose worker died).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(1.1 * max(JOB_TIME_LIMITS.values())),
        "socket_connect_timeout": 5,
    }
else:
    # kombu's filesystem transport: a real broker with a real worker process and no server.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Evaluations have a queue and a worker of their own (Procfile: worker-evaluation): a run's
# automatic evaluation takes minutes, and a generation behind it on the one "gpu" worker waited
# for all of them. Priorities could not help: they order waiting messages, but a running
# evaluation holds its worker until it ends. (docs/operations.md, "Queues and workers")
CELERY_TASK_ROUTES = {
    "quiz.tasks.train_run": {"queue": "gpu"},
    "quiz.tasks.generate_images": {"queue": "gpu"},
    "quiz.tasks.evaluate_run": {"queue": "evaluation"},
}
CELERY_TASK_ANNOTATIONS = {
    name: {"time_limit": limit, "soft_time_limit": limit - 60}
    for name, limit in JOB_TIME_LIMITS.items()
}
# Acknowledge after the task ends, and re-queue a message whose worker process died.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A send to a broker that is down fails fast: the row stays queued and the reconciler re-sends it.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "reconcile-jobs": {"task": "quiz.tasks.reconcile_jobs", "schedule": JOB_RECONCILE_SECONDS},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_cache_failure": {"()": "webapp.cache.OneLineCacheFailure"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        # django-redis's record of a Redis failure it ignored (redis_cache above)
        "django_redis.cache": {"filters": ["one_line_cache_failure"]},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}
