"""Showings kept per process stay equal to a full count of the study's trial rows."""

from collections import Counter
from types import SimpleNamespace

import pytest
from django.db.models import Count

from quiz.models import Participant, Round, RoundPanel
from quiz.studies import showings as showings_module
from quiz.studies.showings import RECOUNT_SECONDS, SETTLE_SECONDS, showings

pytestmark = pytest.mark.django_db

HIGH = 2_000_000_000


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    clock = _Clock()
    monkeypatch.setattr(showings_module, "time", SimpleNamespace(monotonic=clock))
    return clock


def _full_count(study) -> Counter:
    rows = (
        RoundPanel.objects.filter(
            round__participant__study=study, round__participant__is_audit=False
        )
        .values_list("image_id")
        .annotate(times=Count("pk"))
    )
    return Counter(dict(rows))


def _round(study, images, *, is_audit: bool = False, pk: int | None = None) -> Participant:
    participant = Participant.objects.create(study=study, is_audit=is_audit)
    round_ = Round.objects.create(participant=participant)
    for offset, image in enumerate(images):
        RoundPanel.objects.create(
            pk=None if pk is None else pk + offset,
            round=round_,
            letter="ABCDEFGHIJ"[offset],
            image=image,
        )
    return participant


def test_showings_match_a_full_count_across_folds(make_study, clock):
    study = make_study(real=6, synthetic=6)
    images = list(study.images.order_by("pk"))
    _round(study, images[:4])
    assert showings(study) == _full_count(study)
    for step in range(6):
        clock.now += SETTLE_SECONDS / 2  # every other call folds what settled
        _round(study, images[step : step + 3])
        assert showings(study) == _full_count(study), step
    assert sum(showings(study).values()) == 4 + 6 * 3


def test_a_round_committed_late_with_a_lower_id_is_still_counted(make_study, clock):
    # PostgreSQL hands out ids before commit: a round may appear after one with a higher id.
    study = make_study(real=6, synthetic=6)
    images = list(study.images.order_by("pk"))
    # Ids far above what the database hands out itself, so none is taken already.
    _round(study, images[:2], pk=HIGH + 2000)
    assert showings(study) == _full_count(study)  # seen up to id HIGH + 2001
    _round(study, images[2:4], pk=HIGH + 1000)  # committed now, with lower ids
    clock.now += SETTLE_SECONDS + 1
    _round(study, images[4:6], pk=HIGH + 3000)
    assert showings(study) == _full_count(study)
    clock.now += SETTLE_SECONDS + 1
    assert showings(study) == _full_count(study)
    assert sum(showings(study).values()) == 6


def test_audit_rounds_and_other_studies_are_not_showings(make_study, clock):
    study = make_study(real=6, synthetic=6)
    other = make_study(real=6, synthetic=6, slug="other")
    images = list(study.images.order_by("pk"))
    _round(study, images[:3])
    _round(study, images[:3], is_audit=True)
    _round(other, list(other.images.order_by("pk"))[:3])
    assert showings(study) == Counter({image.pk: 1 for image in images[:3]})


def test_a_deleted_participant_is_forgotten_at_the_next_recount(make_study, clock):
    study = make_study(real=6, synthetic=6)
    images = list(study.images.order_by("pk"))
    leaving = _round(study, images[:3])
    _round(study, images[3:5])
    showings(study)
    clock.now += SETTLE_SECONDS + 1
    showings(study)  # folds both rounds into the kept counts
    leaving.delete()
    clock.now += RECOUNT_SECONDS + 1
    assert showings(study) == _full_count(study) == Counter({image.pk: 1 for image in images[3:5]})
