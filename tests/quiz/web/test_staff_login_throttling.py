"""Staff login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username
from one address, that pair is locked out for a cool-off, even with the right password."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("curator", password=PASSWORD, is_staff=True)


def _log_in(client, password: str, **extra):
    return client.post(
        reverse("admin:login"), {"username": "curator", "password": password}, **extra
    )


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_six_wrong_passwords_then_the_right_one_is_refused(client, staff):
    for _ in range(6):
        _log_in(client, "guess")
        assert not _logged_in(client)
    response = _log_in(client, PASSWORD)
    assert response.status_code == 429
    assert not _logged_in(client)
    page = response.content.decode()
    assert "Too many failed logins" in page
    minutes = settings.AXES_COOLOFF_TIME.total_seconds() // 60
    assert f"locked after {settings.AXES_FAILURE_LIMIT} failed attempts" in page
    assert f"Try again in {minutes:.0f} minutes" in page


def test_fewer_failures_than_the_limit_still_let_the_right_password_in(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _log_in(client, "guess").status_code == 200  # the form again, with its error
    assert _log_in(client, PASSWORD).status_code == 302
    assert _logged_in(client)


def test_the_lockout_holds_one_address_not_the_account(client, staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, "guess", REMOTE_ADDR="203.0.113.7")
    assert _log_in(client, PASSWORD, REMOTE_ADDR="203.0.113.7").status_code == 429
    assert _log_in(client, PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 302


def test_behind_a_proxy_the_address_comes_from_client_ip_header(client, staff, settings):
    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, "guess", HTTP_X_REAL_IP="203.0.113.7")
    # Every request comes from the proxy's address; only the header tells the clients apart.
    assert _log_in(client, PASSWORD, HTTP_X_REAL_IP="203.0.113.7").status_code == 429
    assert _log_in(client, PASSWORD, HTTP_X_REAL_IP="198.51.100.2").status_code == 302
