"""`manage.py export_trials` writes the same rows as the statistics page's CSV download."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from quiz.analysis.trials import TRIAL_FIELDS
from tests.participant_requests import answers_for, consent, round_page

pytestmark = pytest.mark.django_db


def test_the_command_writes_one_row_per_trial_like_the_download(client, make_study, tmp_path):
    study = make_study(results_public=True)
    consent(client, study)
    round_, _ = round_page(client, study)
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))

    output = tmp_path / "trials.csv"
    call_command("export_trials", study.slug, output=output, stderr=io.StringIO())
    exported = list(csv.DictReader(output.open()))
    downloaded = b"".join(
        client.get(reverse("quiz:trials_csv", args=[study.slug])).streaming_content
    ).decode()
    assert exported == list(csv.DictReader(io.StringIO(downloaded)))
    assert len(exported) == 10 and tuple(exported[0]) == TRIAL_FIELDS
    assert {row["correct"] for row in exported} == {"1"}
    assert {row["study"] for row in exported} == {study.slug}


def test_an_unknown_study_is_named(db):
    with pytest.raises(CommandError, match="No study with the slug 'nope'"):
        call_command("export_trials", "nope")
