"""Production settings: Django's deployment checks pass, and a missing or malformed setting stops
the site before it serves anything."""

import pytest

from tests.deploy.production import manage


def test_the_deployment_checks_pass_with_debug_off_a_secret_key_and_https_by_default(prod_env):
    result = manage(prod_env, "check", "--deploy", "--fail-level", "WARNING", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_https_0_turns_the_production_security_off(prod_env):
    # The loopback benchmark's switch: the same checks then name what is missing.
    result = manage(
        {**prod_env, "HTTPS": "0"}, "check", "--deploy", "--fail-level", "WARNING", check=False
    )
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_debug_off_without_a_secret_key_refuses_to_start(prod_env):
    del prod_env["SECRET_KEY"]
    result = manage(prod_env, "check", check=False)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_the_rate_limit_checks_accept_the_shared_database_cache(prod_env):
    # django-ratelimit refuses Django's own DatabaseCache (E003: increments not atomic); the site's
    # AtomicDatabaseCache must not be refused, and nothing is silenced for it but W001.
    result = manage(prod_env, "check", "--tag", "caches", "--fail-level", "WARNING", check=False)
    assert result.returncode == 0, result.stderr
    assert "no issues (1 silenced)" in result.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUIZ_SUBMIT_RATE", "thirty a minute"),
        ("QUIZ_START_RATE", "0/m"),
        ("AXES_FAILURE_LIMIT", "five"),
        ("AXES_COOLOFF_MINUTES", "0"),
        ("HSTS_SECONDS", "1.5"),
        ("DB_POOL_MAX_SIZE", "-3"),
    ],
)
def test_a_malformed_setting_is_named_with_what_was_expected(prod_env, name, value):
    # The pool's sizes are read for PostgreSQL only; `check` does not connect.
    env = {**prod_env, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", name: value}
    result = manage(env, "check", check=False)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}={value!r}: expected" in result.stderr
