"""Sessions balance the generators: each participant sees every generator equally often."""

import random
from collections import Counter

import pytest
from django.urls import reverse

from quiz.integrity.oracle_check import check
from quiz.models import Feedback, Generator, ImageKind, Participant, RoundPanel
from quiz.studies.design import CATCH, REAL, SYNTHETIC, DesignError, next_generator
from quiz.studies.rounds import fill_slots, least_shown_first, open_round, start_session
from tests.participant_requests import answers_for, consent


def test_the_next_generator_is_the_least_seen_with_an_image_left():
    rng = random.Random(0)
    assert next_generator({"a": 2, "b": 1, "c": 1}, ["a", "b"], rng) == "b"
    # "c" is seen least, but has nothing left for this participant.
    assert next_generator({"a": 2, "b": 3, "c": 0}, ["a", "b"], rng) == "a"
    ties = Counter(next_generator({"a": 1, "b": 1}, ["a", "b"], rng) for _ in range(400))
    assert set(ties) == {"a", "b"} and min(ties.values()) > 150
    with pytest.raises(DesignError):
        next_generator({}, [], rng)


def test_one_generator_draws_no_random_number():
    rng = random.Random(5)
    next_generator({"only": 3}, ["only"], rng)
    assert rng.random() == random.Random(5).random()


def _old_fill(slots, pools, seen, shown, rng):
    """The fill before generators were balanced: one synthetic pool, least-shown first."""
    candidates = {kind: least_shown_first(pools[kind], seen, shown, rng) for kind in pools}
    return [candidates[slot].pop(0) for slot in slots]


def test_with_one_generator_the_images_are_exactly_those_of_before():
    pools = {REAL: list(range(10)), SYNTHETIC: list(range(10, 22)), CATCH: [30, 31]}
    shown = Counter({3: 2, 12: 1, 15: 4, 30: 1})
    slots = "RSSCRSRSSRC"
    generator_of = dict.fromkeys(pools[SYNTHETIC], 7)
    for seed in range(20):
        seen = {1, 11}
        new = fill_slots(slots, pools, generator_of, seen, shown, random.Random(seed))
        assert new == _old_fill(slots, pools, seen, shown, random.Random(seed))


@pytest.mark.parametrize("generators", [2, 3])
def test_every_participant_sees_every_generator_equally_often(generators):
    pools = {REAL: list(range(100)), SYNTHETIC: list(range(100, 160)), CATCH: []}
    generator_of = {pk: pk % generators for pk in pools[SYNTHETIC]}
    rng = random.Random(1)
    shown: Counter = Counter()
    orders = set()
    for _ in range(30):
        seen: set[int] = set()
        counts: Counter = Counter()
        order = []
        for round_slots in ("SRSSR", "SSRSS", "RSRSS", "S"):
            for pk in fill_slots(round_slots, pools, generator_of, seen, shown, rng):
                seen.add(pk)
                shown[pk] += 1
                if pk in generator_of:
                    counts[generator_of[pk]] += 1
                    order.append(generator_of[pk])
                    # Balanced at every point of the session, not only at its end.
                    assert max(counts.values()) - min(counts[g] for g in range(generators)) <= 1
        assert sum(counts.values()) == 11
        orders.add(tuple(order))
    assert len(orders) > 10  # the order within each block is drawn, not fixed


def test_a_generator_with_too_few_images_is_used_up_and_the_others_take_its_slots():
    pools = {REAL: list(range(20)), SYNTHETIC: list(range(100, 112)), CATCH: []}
    generator_of = {pk: "small" if pk < 102 else "large" for pk in pools[SYNTHETIC]}
    chosen = fill_slots("S" * 10, pools, generator_of, set(), Counter(), random.Random(0))
    assert Counter(generator_of[pk] for pk in chosen) == {"small": 2, "large": 8}


def _take_whole_session(client, study) -> Participant:
    consent(client, study)
    participant = Participant.objects.latest("pk")
    while True:
        response = client.get(reverse("quiz:round", args=[study.slug]))
        if response.status_code == 302:
            return participant
        round_ = participant.rounds.latest("index")
        client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))


@pytest.mark.django_db
def test_sessions_of_a_two_generator_study_through_the_site_are_balanced(client, make_study):
    # Sessions of 3 rounds of 4 use about 6 of the 16 synthetic images: balance is a choice,
    # not what the pools force.
    study = make_study(
        real=16,
        synthetic=16,
        generators=2,
        panels_per_round=4,
        rounds_per_session=3,
        feedback="none",
    )
    names = set(Generator.objects.filter(images__studies=study).values_list("name", flat=True))
    assert names == {"run muscle", "elsewhere 2 muscle"}
    for _ in range(6):
        client.cookies.clear()
        participant = _take_whole_session(client, study)
        panels = RoundPanel.objects.filter(round__participant=participant).select_related(
            "image__generator"
        )
        kinds = Counter(panel.image.kind for panel in panels)
        per_generator = Counter(
            panel.image.generator.name for panel in panels if panel.image.kind == "synthetic"
        )
        assert len(panels) == 12
        assert kinds[ImageKind.SYNTHETIC] == participant.design.count(SYNTHETIC)
        assert set(per_generator) == names or kinds[ImageKind.SYNTHETIC] < 2
        counts = [per_generator[name] for name in names]
        assert max(counts) - min(counts) <= 1


@pytest.mark.django_db
def test_a_new_round_continues_the_balance_of_the_rounds_before(make_study):
    study = make_study(real=30, synthetic=30, generators=3, panels_per_round=5)
    generators = set(Generator.objects.values_list("pk", flat=True))
    assert len(generators) == 3
    participant = start_session(study)
    seen: Counter = Counter()
    while (round_ := open_round(participant)) is not None:
        for panel in round_.panels.select_related("image"):
            if panel.image.kind == ImageKind.SYNTHETIC:
                seen[panel.image.generator_id] += 1
        # A round may hold no synthetic panel, and a generator may not have come up yet.
        counts = [seen[generator] for generator in generators]
        assert max(counts) - min(counts) <= 1
        round_.submitted_at = round_.served_at
        round_.save(update_fields=["submitted_at"])
    assert len(seen) == 3


def test_the_oracle_check_fills_its_sessions_as_the_site_does(monkeypatch):
    from quiz.integrity import oracle_check

    settings = dict(
        real=list(range(20)),
        synthetic=list(range(100, 120)),
        catch=[],
        panels_per_round=5,
        rounds_per_session=2,
        policy=Feedback.SCORE_ONLY,
        sessions=12,
        margin=0.05,
        seed=3,
    )
    one = check(**settings, generator_of=dict.fromkeys(settings["synthetic"], 1))
    assert one == check(**settings)  # one generator: the same sessions as without generators
    calls = []

    def recorded(slots, pools, generator_of, seen, shown, rng):
        images = fill_slots(slots, pools, generator_of, seen, shown, rng)
        calls.append((not seen, [generator_of[pk] for pk in images if pk in generator_of]))
        return images

    monkeypatch.setattr(oracle_check, "fill_slots", recorded)
    two = check(**settings, generator_of={pk: pk % 2 for pk in settings["synthetic"]})
    assert two.sessions == 12
    sessions = []
    for first, generators in calls:
        if first:
            sessions.append(Counter())
        sessions[-1].update(generators)
    assert len(sessions) == 12
    for counts in sessions:
        assert abs(counts[0] - counts[1]) <= 1, counts
    assert sum(sum(counts.values()) for counts in sessions) > 12 * 3
