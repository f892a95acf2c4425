"""A timed round shows its images once: a reload keeps them hidden."""

import pytest

from tests.participant_requests import consent, round_page

pytestmark = pytest.mark.django_db


def test_a_reloaded_timed_round_keeps_its_images_hidden(client, make_study):
    study = make_study(exposure_ms=500)
    consent(client, study)
    first_round, first = round_page(client, study)
    assert 'data-exposure-ms="500"' in first and "data-already-shown" not in first
    again_round, again = round_page(client, study)
    assert again_round == first_round
    assert "data-already-shown" in again and "shown once already" in again


def test_an_untimed_round_can_be_reloaded_freely(client, make_study):
    study = make_study()
    consent(client, study)
    round_page(client, study)
    _, again = round_page(client, study)
    assert "data-already-shown" not in again
