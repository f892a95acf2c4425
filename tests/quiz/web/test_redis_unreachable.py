"""With the Redis that holds the cache and the rate limits unreachable, participants still consent,
answer and submit, and the statistics still render.

The site's cache on Redis (webapp.settings.redis_cache) logs each failure and answers as an empty
cache would: the rate limits let requests through (RATELIMIT_FAIL_OPEN) and the statistics report
is computed without its cache. With Redis up, the same cache counts and limits as before.
"""

import pytest
from django.test import Client
from django.urls import reverse

from quiz.models import Guess, Round, Study
from tests.deploy.production import free_port
from tests.integration.conftest import REDIS_TEST_URL, empty_test_redis
from webapp.settings import redis_cache

pytestmark = pytest.mark.django_db

# A port nothing listens on: every connection is refused, as when Redis is down.
DEAD_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
CACHE_LOGGER = "django_redis.cache"
CONSENT = {"consent": "on", "expertise": "none"}


@pytest.fixture
def dead_redis(settings):
    settings.CACHES = {"default": redis_cache(DEAD_REDIS_URL)}
    # One request per participant and per minute: any count that reached a cache would refuse the
    # second consent from this address and each participant's second submission.
    settings.QUIZ_START_RATE = "1/m"
    settings.QUIZ_SUBMIT_RATE = "1/m"


@pytest.fixture
def live_redis(settings):
    empty_test_redis()
    settings.CACHES = {"default": redis_cache(REDIS_TEST_URL)}
    settings.QUIZ_START_RATE = "1/m"
    settings.QUIZ_SUBMIT_RATE = "1/m"


@pytest.fixture
def study(make_study) -> Study:
    # Three rounds of four panels, a result page after each, and public statistics.
    study = make_study(slug="no-redis", real=6, synthetic=6, feedback="key", panels_per_round=4)
    Study.objects.filter(pk=study.pk).update(results_public=True)
    study.refresh_from_db()
    return study


def _cache_failures(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == CACHE_LOGGER]


def _take_part(client: Client, study: Study, caplog) -> dict[str, str]:
    """Every participant page, from the study's start page to its summary; the answers sent."""
    slug = study.slug
    assert client.get(reverse("quiz:home")).status_code == 200
    assert client.get(reverse("quiz:start", args=[slug])).status_code == 200

    caplog.clear()
    consent = client.post(reverse("quiz:start", args=[slug]), CONSENT)
    assert consent.status_code == 302, consent.content.decode()
    assert consent["Location"] == reverse("quiz:round", args=[slug])
    # The consent limit asked the cache, which could not answer, and said so.
    assert "Redis cache unreachable" in " ".join(_cache_failures(caplog))

    sent: dict[str, str] = {}
    while True:
        page = client.get(reverse("quiz:round", args=[slug]))
        if page.status_code == 302:
            assert page["Location"] == reverse("quiz:done", args=[slug])
            break
        assert page.status_code == 200
        round_ = Round.objects.get(
            participant__token=client.session[f"participant:{study.pk}"], submitted_at=None
        )
        answers = {}
        for index, panel in enumerate(round_.panels.order_by("letter")):
            image = client.get(reverse("quiz:panel", args=[slug, panel.token]))
            assert image.status_code == 200
            assert image["Content-Type"] == "image/png"
            answers[f"panel-{panel.token}"] = ("real", "synthetic")[index % 2]

        caplog.clear()
        submitted = client.post(reverse("quiz:submit", args=[slug, round_.token]), answers)
        assert submitted.status_code == 302, submitted.content.decode()
        assert submitted["Location"] == reverse("quiz:result", args=[slug, round_.token])
        assert _cache_failures(caplog)  # the submission limit asked the cache too
        assert client.get(submitted["Location"]).status_code == 200
        sent.update(answers)

    assert client.get(reverse("quiz:done", args=[slug])).status_code == 200
    return sent


def _stored(study: Study) -> dict[str, str]:
    return {
        f"panel-{guess.panel.token}": guess.answer
        for guess in Guess.objects.filter(panel__round__participant__study=study).select_related(
            "panel"
        )
    }


def test_participants_take_the_whole_study_while_redis_is_unreachable(
    dead_redis, study, caplog, sent_tasks
):
    # Two participants from one address, each over the limits (1/m): neither is held back.
    first = _take_part(Client(), study, caplog)
    second = _take_part(Client(), study, caplog)
    assert Round.objects.filter(participant__study=study, submitted_at__isnull=False).count() == 6
    assert _stored(study) == first | second
    # Nothing on the participant's path sends a job to the broker that shares the lost Redis.
    assert sent_tasks == {}


def test_the_statistics_render_while_redis_is_unreachable(dead_redis, study, caplog, admin_client):
    answers = _take_part(Client(), study, caplog)
    public = Client()

    caplog.clear()
    page = public.get(reverse("quiz:stats", args=[study.slug]))
    assert page.status_code == 200
    assert "Redis cache unreachable" in " ".join(_cache_failures(caplog))
    report = public.get(reverse("quiz:report_json", args=[study.slug]))
    assert report.status_code == 200
    assert report.json()["participants"] == 1
    assert report.json()["trials"] == len(answers)
    trials = public.get(reverse("quiz:trials_csv", args=[study.slug]))
    assert trials.status_code == 200
    assert len(b"".join(trials.streaming_content).decode().splitlines()) == 1 + len(answers)
    # Staff see the flags and thumbnails besides.
    assert admin_client.get(reverse("quiz:stats", args=[study.slug])).status_code == 200


def test_with_redis_up_the_same_cache_counts_and_limits(live_redis, study, caplog):
    start = reverse("quiz:start", args=[study.slug])
    participant = Client()
    assert participant.post(start, CONSENT).status_code == 302
    # The same address again, over QUIZ_START_RATE.
    assert Client().post(start, CONSENT).status_code == 429

    participant.get(reverse("quiz:round", args=[study.slug]))
    round_ = Round.objects.get(participant__study=study)
    submit = reverse("quiz:submit", args=[study.slug, round_.token])
    assert participant.post(submit, {}).status_code == 400  # incomplete: counted all the same
    refused = participant.post(
        submit, {f"panel-{panel.token}": "real" for panel in round_.panels.all()}
    )
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert not Guess.objects.exists()
    assert _cache_failures(caplog) == []
