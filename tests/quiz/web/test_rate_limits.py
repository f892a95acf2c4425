"""Rate limits on the quiz (django-ratelimit): round submissions per participant, consents per
client address; a limited request is answered 429 with a plain message and stores nothing."""

import threading

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from quiz.integrity.audit_access import audit_token
from quiz.models import Guess, Participant, Round

pytestmark = pytest.mark.django_db


def _consent(client, study, **extra):
    return client.post(
        reverse("quiz:start", args=[study.slug]), {"consent": "on", "expertise": "none"}, **extra
    )


def _open_round(client, study) -> Round:
    assert client.get(reverse("quiz:round", args=[study.slug])).status_code == 200
    return Round.objects.filter(
        participant__token=client.session[f"participant:{study.pk}"]
    ).latest("served_at")


def _submit(client, study, round_: Round, answers: dict[str, str]):
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)


def _all_real(round_: Round) -> dict[str, str]:
    return {f"panel-{panel.token}": "real" for panel in round_.panels.all()}


def _assert_limited(response) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many requests in a short time. Nothing was recorded" in response.content.decode()


def test_submissions_beyond_the_rate_are_refused_and_record_nothing(client, make_study, settings):
    settings.QUIZ_SUBMIT_RATE = "3/m"
    study = make_study(slug="limited")
    _consent(client, study)
    round_ = _open_round(client, study)
    # Incomplete submissions count too: each is a request the server has to check.
    for _ in range(3):
        assert _submit(client, study, round_, {}).status_code == 400
    _assert_limited(_submit(client, study, round_, _all_real(round_)))
    assert not Guess.objects.exists()
    round_.refresh_from_db()
    assert round_.submitted_at is None


def test_the_submission_limit_is_per_participant(make_study, settings):
    settings.QUIZ_SUBMIT_RATE = "2/m"
    study = make_study(slug="two")
    first, second = Client(), Client()
    for participant in (first, second):
        _consent(participant, study)
    first_round = _open_round(first, study)
    for _ in range(2):
        _submit(first, study, first_round, {})
    _assert_limited(_submit(first, study, first_round, _all_real(first_round)))

    # The same address, another participant: their own count.
    second_round = _open_round(second, study)
    assert _submit(second, study, second_round, _all_real(second_round)).status_code == 302
    assert Guess.objects.filter(panel__round=second_round).count() == 10


def test_consents_beyond_the_rate_from_one_address_are_refused(make_study, settings):
    settings.QUIZ_START_RATE = "2/m"
    study = make_study(slug="crowd")
    for _ in range(2):
        assert _consent(Client(), study).status_code == 302
    _assert_limited(_consent(Client(), study))
    assert Participant.objects.count() == 2
    # Another address is not held back by this one.
    assert _consent(Client(), study, REMOTE_ADDR="198.51.100.2").status_code == 302


def test_behind_a_proxy_consents_are_counted_by_client_ip_header(make_study, settings):
    settings.QUIZ_START_RATE = "1/m"
    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    study = make_study(slug="proxied")
    # A client's own X-Forwarded-For entry comes first; the proxy appends the address it saw.
    assert (
        _consent(Client(), study, HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.7").status_code == 302
    )
    _assert_limited(_consent(Client(), study, HTTP_X_FORWARDED_FOR="10.0.0.2, 203.0.113.7"))
    assert _consent(Client(), study, HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 302


def test_the_leak_audit_is_not_held_back_by_the_consent_limit(make_study, settings):
    # Publishing's audit takes the quiz many times from the server's own address.
    settings.QUIZ_START_RATE = "1/m"
    study = make_study(slug="audited")
    start = reverse("quiz:start", args=[study.slug])
    for _ in range(3):
        auditor = Client()
        auditor.get(start, {"audit": audit_token(study)})
        assert _consent(auditor, study).status_code == 302
    assert Participant.objects.filter(is_audit=True).count() == 3


@pytest.fixture
def database_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "webapp.cache.AtomicDatabaseCache", "LOCATION": "test_rate_cache"}
    }
    call_command("createcachetable")
    yield caches["default"]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE test_rate_cache")


@pytest.mark.django_db(transaction=True)
def test_the_database_cache_counts_every_one_of_simultaneous_increments(database_cache):
    # What makes the shared cache fit for rate limits: no increment lost between read and write.
    database_cache.add("count", 0)
    threads, increments = 4, 25
    errors: list[BaseException] = []

    def count() -> None:
        try:
            for _ in range(increments):
                database_cache.incr("count")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=count) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert database_cache.get("count") == threads * increments
    with pytest.raises(ValueError, match="not found"):
        database_cache.incr("never-added")
