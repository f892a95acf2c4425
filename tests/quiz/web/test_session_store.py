"""webapp.sessions: Django's database sessions, read with a statement built once, load what
Django's own backend loads and nothing it would not."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from webapp.sessions import SessionStore

pytestmark = pytest.mark.django_db


def _saved(data: dict) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_a_saved_session_loads_as_djangos_backend_loads_it():
    key = _saved({"participant:7": "5b3c7a7e-0d4e-4a36-9c55-9f1f0b0d3a11", "audit:7": True})
    assert dict(SessionStore(key).items()) == dict(DjangoSessionStore(key).items())
    assert SessionStore(key)["audit:7"] is True


def test_an_expired_session_loads_empty_and_is_saved_under_a_new_key():
    key = _saved({"participant:1": "x"})
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    store = SessionStore(key)
    assert dict(store.items()) == {}
    store["participant:2"] = "y"
    store.save()
    assert store.session_key != key


def test_an_unknown_key_loads_empty_and_another_sessions_data_never():
    _saved({"participant:1": "someone else's"})
    assert dict(SessionStore("k" * 32).items()) == {}


def test_the_site_uses_this_store(client):
    from django.conf import settings

    assert settings.SESSION_ENGINE == "webapp.sessions"
    assert type(client.session).__module__ == "webapp.sessions"
