"""Sessions accounted for: finished, partial and abandoned; the counting rule fixed at publish,
with the figures without it; the wide CSV and the Psych-DS metadata of both CSVs."""

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from quiz.analysis.exports import COLUMNS, WIDE_FIELDS
from quiz.analysis.reports import methods_paragraph, study_report
from quiz.analysis.trials import TRIAL_FIELDS
from quiz.models import CountedSessions, Participant, SessionState
from quiz.studies.rounds import start_session
from tests.participant_requests import answers_for, round_page

pytestmark = pytest.mark.django_db


def _session(study, pid: str, rounds: int, *, open_next: bool = False) -> Client:
    """A participant from a link with this pid who submits `rounds` rounds, all right."""
    client = Client()
    url = reverse("quiz:start", args=[study.slug])
    client.get(url, {"PROLIFIC_PID": pid, "STUDY_ID": "st1", "SESSION_ID": f"se-{pid}"})
    client.post(url, {"consent": "on", "expertise": "none"})
    for _ in range(rounds):
        round_, _ = round_page(client, study)
        client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))
    if open_next:
        round_page(client, study)  # a round served, never submitted
    return client


@pytest.fixture
def crafted(make_study):
    """Seven sessions, as the issue met them: two with no trials, one with 1 of 2 rounds, one
    partial with its next round open, and three finished (one never saw the summary page)."""
    study = make_study(real=20, synthetic=20, rounds_per_session=2, results_public=True)
    _session(study, "abandoned-1", 0)
    _session(study, "abandoned-2", 0, open_next=True)
    _session(study, "partial-1", 1)
    _session(study, "partial-2", 1, open_next=True)
    for pid in ("finished-1", "finished-2"):
        client = _session(study, pid, 2)
        client.get(reverse("quiz:done", args=[study.slug]))
    _session(study, "finished-3", 2)  # closed the tab on the last submission
    # Neither the leak audit's nor a pilot's sessions are data.
    start_session(study, is_audit=True)
    start_session(study, is_pilot=True)
    return study


STATES = {
    "abandoned-1": SessionState.ABANDONED,
    "abandoned-2": SessionState.ABANDONED,
    "partial-1": SessionState.PARTIAL,
    "partial-2": SessionState.PARTIAL,
    "finished-1": SessionState.FINISHED,
    "finished-2": SessionState.FINISHED,
    "finished-3": SessionState.FINISHED,
}


def test_each_session_is_finished_partial_or_abandoned(crafted):
    plain = {p.external_id: p.state for p in Participant.objects.exclude(external_id="")}
    annotated = {
        p.external_id: p.state for p in Participant.objects.exclude(external_id="").with_progress()
    }
    assert plain == annotated == STATES
    assert all(
        p.finished_at is not None
        for p in Participant.objects.filter(external_id__startswith="finished")
    )


def test_the_rule_counts_finished_sessions_and_the_report_gives_both(crafted):
    report = study_report(crafted)
    sessions = report["sessions"]
    assert sessions["started"] == 7  # the audit's and the pilot's are not sessions of the study
    assert sessions["counts"] == {"finished": 3, "partial": 2, "abandoned": 2}
    assert sessions["rule"] == CountedSessions.FINISHED and sessions["counted"] == 3
    assert sessions["pilot_sessions_not_counted"] == 1
    assert (report["participants"], report["trials"]) == (3, 60)
    without = sessions["without_rule"]
    assert (without["participants"], without["trials"]) == (5, 80)
    assert without["accuracy"]["estimate"] == 1.0
    methods = methods_paragraph(report)
    assert "7 sessions started: 3 finished" in methods and "2 abandoned" in methods
    assert "only finished sessions were analysed" in methods
    assert "with partial sessions too: 5 participants" in methods
    out = io.StringIO()
    call_command("study_report", crafted.slug, stdout=out)
    assert "7 sessions: 3 finished, 2 partial, 2 abandoned; counted: finished sessions only" in (
        out.getvalue()
    )


def test_with_partial_sessions_counted_there_is_nothing_beside(crafted):
    crafted.counted_sessions = CountedSessions.FINISHED_AND_PARTIAL
    crafted.save()
    report = study_report(crafted)
    assert (report["participants"], report["trials"]) == (5, 80)
    assert report["sessions"]["counted"] == 5 and report["sessions"]["without_rule"] is None
    assert "finished and partial sessions were analysed" in methods_paragraph(report)


def test_the_statistics_page_and_json_show_the_sessions(crafted):
    page = Client().get(reverse("quiz:stats", args=[crafted.slug])).content.decode()
    assert 'data-state="finished">3<' in page and 'data-state="abandoned">2<' in page
    assert 'id="without-rule"' in page
    assert reverse("quiz:participants_csv", args=[crafted.slug]) in page
    assert reverse("quiz:metadata_json", args=[crafted.slug]) in page
    public = Client().get(reverse("quiz:report_json", args=[crafted.slug])).json()
    assert public["sessions"]["counts"]["partial"] == 2
    assert all("external_id" not in row for row in public["per_participant"])
    assert "finished-1" not in page


def test_staff_see_the_recruitment_ids_in_the_tables(crafted):
    staff = Client()
    staff.force_login(get_user_model().objects.create_user("s", is_staff=True))
    report = staff.get(reverse("quiz:report_json", args=[crafted.slug])).json()
    ids = {row["external_id"]: row["session_state"] for row in report["per_participant"]}
    assert ids == {"finished-1": "finished", "finished-2": "finished", "finished-3": "finished"}
    page = staff.get(reverse("quiz:stats", args=[crafted.slug])).content.decode()
    assert "<th>External id</th>" in page and "finished-2" in page
    trials = _csv(staff.get(reverse("quiz:trials_csv", args=[crafted.slug])))
    assert {row["external_id"] for row in trials} == {
        "partial-1",
        "partial-2",
        "finished-1",
        "finished-2",
        "finished-3",
    }
    assert {row["external_session_id"] for row in trials if row["external_id"] == "partial-1"} == {
        "se-partial-1"
    }
    assert {(row["session_state"], row["counted"]) for row in trials} == {
        ("partial", "0"),
        ("finished", "1"),
    }


def test_the_public_trial_csv_has_the_columns_but_not_the_ids(crafted):
    trials = _csv(Client().get(reverse("quiz:trials_csv", args=[crafted.slug])))
    assert len(trials) == 80 and tuple(trials[0]) == TRIAL_FIELDS
    assert {row["external_id"] for row in trials} == {""}


def test_the_wide_csv_has_one_row_per_session(crafted, tmp_path):
    output = tmp_path / "wide.csv"
    call_command("export_trials", crafted.slug, wide=True, output=output, stderr=io.StringIO())
    rows = list(csv.DictReader(output.open()))
    assert tuple(rows[0]) == WIDE_FIELDS
    by_id = {row["external_id"]: row for row in rows}
    assert {pid: row["session_state"] for pid, row in by_id.items()} == STATES
    finished = by_id["finished-1"]
    assert (finished["rounds_submitted"], finished["test_trials"], finished["counted"]) == (
        "2",
        "20",
        "1",
    )
    assert float(finished["accuracy"]) == 1.0 and float(finished["fooling_rate"]) == 0.0
    assert by_id["partial-2"]["test_trials"] == "10" and by_id["partial-2"]["counted"] == "0"
    assert by_id["abandoned-1"]["accuracy"] == "" and by_id["abandoned-1"]["test_trials"] == "0"
    # The page's download is the same, less the ids.
    downloaded = _csv(Client().get(reverse("quiz:participants_csv", args=[crafted.slug])))
    blank = dict.fromkeys(("external_id", "external_study_id", "external_session_id"), "")
    assert downloaded == [{**row, **blank} for row in rows]


def test_the_metadata_describes_every_column_of_both_csvs(crafted, tmp_path):
    output = tmp_path / "dataset_description.json"
    call_command("export_trials", crafted.slug, metadata=True, output=output, stderr=io.StringIO())
    description = json.loads(output.read_text())
    assert description["@context"] == "https://schema.org/"
    assert description["@type"] == "Dataset"
    assert description["name"] and description["description"]
    names = [variable["name"] for variable in description["variableMeasured"]]
    assert sorted(names) == sorted(set(TRIAL_FIELDS) | set(WIDE_FIELDS))
    assert set(COLUMNS) == set(names)  # no description of a column that does not exist
    for variable in description["variableMeasured"]:
        assert variable["@type"] == "PropertyValue" and variable["description"]
    downloaded = Client().get(reverse("quiz:metadata_json", args=[crafted.slug]))
    assert "dataset_description.json" in downloaded["Content-Disposition"]
    assert downloaded.json()["variableMeasured"] == description["variableMeasured"]


def _csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_migration_finishes_sessions_whose_every_round_was_submitted(make_study):
    from importlib import import_module

    from django.apps import apps

    backfill = import_module("quiz.migrations.0019_sessions_accounted_for").backfill
    study = make_study(real=20, synthetic=20, rounds_per_session=2)
    for pid, rounds in (("all-in", 2), ("half", 1)):
        _session(study, pid, rounds)
    Participant.objects.update(finished_at=None)  # as before the migration
    study.is_published = True
    study.save()
    backfill(apps, None)
    complete = Participant.objects.get(external_id="all-in")
    assert complete.finished_at == complete.rounds.latest("submitted_at").submitted_at
    assert Participant.objects.get(external_id="half").finished_at is None
    study.refresh_from_db()
    assert study.counted_sessions == CountedSessions.FINISHED_AND_PARTIAL
