"""A production environment for fresh processes: DEBUG=0, a secret key, a VAR_DIR of its own."""

import os
import secrets

import pytest


@pytest.fixture
def prod_env(tmp_path) -> dict[str, str]:
    """A production environment with its own VAR_DIR: SQLite, the database cache, HTTPS on."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "HTTPS", "MEDIA_ROOT"}
        and not key.startswith(("PYTEST_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        VAR_DIR=str(tmp_path / "var"),
        WEB_CONCURRENCY="2",
    )
    return env
