"""Settings, read from the environment with defaults that work on one machine with nothing set up.

| variable       | default                                  |
| -------------- | ---------------------------------------- |
| SECRET_KEY     | a development key (set one in production) |
| DEBUG          | true                                     |
| ALLOWED_HOSTS  | localhost,127.0.0.1,[::1]                |
| DATABASE_URL   | sqlite:///var/db.sqlite3 (WAL)           |
| REDIS_URL      | unset: the embedded filesystem broker    |
| MEDIA_ROOT     | var/media                                |
| VAR_DIR        | var (SQLite file, broker queue, media)   |
| AWS_STORAGE_BUCKET_NAME | unset: files under MEDIA_ROOT; set: this private S3 bucket |
| AWS_S3_ENDPOINT_URL | unset: AWS itself; e.g. http://127.0.0.1:8080 (Swift, MinIO, Ceph) |
| AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY | unset: boto3's own chain (instance role, ~/.aws) |
| AWS_S3_REGION_NAME | unset: boto3's default region            |
| AWS_LOCATION   | unset: a key prefix inside the bucket    |
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-set-SECRET_KEY-in-production")
DEBUG = _env_bool("DEBUG", True)
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "quiz",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

# https://github.com/jazzband/dj-database-url#url-schema
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # SQLite creates the file, not its folder
    # WAL lets the web server read while a worker writes progress; IMMEDIATE transactions and a
    # timeout turn writer contention into waiting instead of "database is locked" errors.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not :memory:) so that a Celery worker process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

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

# Uploads: reject oversized requests early; each file's own limits live in quiz.ingest.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", 1024 * 1024 * 1024))
DATA_UPLOAD_MAX_NUMBER_FILES = 2000

LOGIN_URL = "admin:login"

# Background jobs (quiz.jobs, docs/operations.md). The row of each job is its record and the broker
# only a trigger, so no result backend. A running attempt holds a lease that its heartbeats renew;
# beat's reconciler re-queues a job whose lease lapsed and re-sends queued jobs whose message may
# have been lost (a broker restarted without persistence, a send that failed).
JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", 90))
JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", 5))
JOB_RESEND_SECONDS = float(os.environ.get("JOB_RESEND_SECONDS", 300))
JOB_RECONCILE_SECONDS = float(os.environ.get("JOB_RECONCILE_SECONDS", 30))
JOB_MAX_LOST_LEASES = int(os.environ.get("JOB_MAX_LOST_LEASES", 3))
# Hard time limits per task (seconds); the soft limit 60 s earlier lets a job record why it stopped.
JOB_TIME_LIMITS = {
    "quiz.tasks.ingest_upload": 2 * 3600,
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
CELERY_TASK_ROUTES = {
    "quiz.tasks.train_run": {"queue": "gpu"},
    "quiz.tasks.generate_images": {"queue": "gpu"},
    "quiz.tasks.evaluate_run": {"queue": "gpu"},
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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
