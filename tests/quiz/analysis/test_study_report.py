"""`manage.py study_report`: the statistics page's figures as data, from a study or a trial CSV."""

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from quiz.analysis.reports import study_report
from tests.participant_requests import answers_for, consent

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("study_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def answered_study(client, make_study):
    """Two participants' sessions of a 12 + 12 study, one right on everything, one wrong."""
    from django.test import Client

    study = make_study(results_public=True)
    for correct in (True, False):
        participant = Client()
        consent(participant, study)
        while True:
            response = participant.get(reverse("quiz:round", args=[study.slug]))
            if response.status_code != 200:
                break
            round_ = study.participants.latest("pk").rounds.latest("index")
            participant.post(
                reverse("quiz:submit", args=[study.slug, round_.token]),
                answers_for(round_, correct=correct),
            )
    return study


def test_the_json_report_of_a_study_is_its_pages_report(answered_study):
    report = json.loads(_run(answered_study.slug, "--json"))
    assert report == json.loads(json.dumps(study_report(answered_study)))
    assert (report["participants"], report["trials"]) == (2, 40)
    assert report["accuracy"]["estimate"] == pytest.approx(0.5)
    assert "signal = synthetic" in report["dprime_convention"]


def test_a_report_from_the_exported_csv_matches_the_studys(answered_study, tmp_path):
    csv_path = tmp_path / "trials.csv"
    call_command("export_trials", answered_study.slug, output=csv_path, stderr=io.StringIO())
    from_csv = json.loads(_run("--from-csv", str(csv_path), "--json"))
    from_db = study_report(answered_study)
    for figure in ("accuracy", "fooling_rate", "dprime", "hype_error"):
        assert from_csv[figure]["estimate"] == pytest.approx(from_db[figure]["estimate"])
        assert from_csv[figure]["ci95"] == pytest.approx(from_db[figure]["ci95"])
    assert from_csv["trials"] == from_db["trials"]


def test_a_csv_with_only_the_required_columns_is_enough(tmp_path):
    path = tmp_path / "external.csv"
    rows = ["participant,image,true_label,answer"]
    for participant in ("p1", "p2", "p3"):
        for index in range(8):
            truth = "real" if index % 2 else "synthetic"
            rows.append(f"{participant},img{index},{truth},{'real' if index < 5 else truth}")
    path.write_text("\n".join(rows) + "\n")
    text = _run("--from-csv", str(path))
    assert "3 participants, 24 test trials" in text
    assert "accuracy:" in text and "equivalence:" in text


def test_a_csv_with_a_rating_column_gets_the_roc_block(tmp_path):
    path = tmp_path / "rated.csv"
    rows = ["participant,image,true_label,answer,rating"]
    for participant in ("p1", "p2", "p3"):
        for index in range(8):
            truth = "real" if index % 2 else "synthetic"
            # Every participant rates every image: synthetic {3, 6, 5, 4} against real
            # {2, 1, 3, 2}: one tie at 3, so 15.5 of 16 pairs.
            rating = 4 + index % 3 if truth == "synthetic" else 1 + index % 3
            rating = 3 if index == 0 else rating
            rows.append(f"{participant},img{index},{truth},{truth},{rating}")
    rows.append("p1,img9,real,real,")  # an unrated trial: in the report, not in the ROC
    path.write_text("\n".join(rows) + "\n")
    report = json.loads(_run("--from-csv", str(path), "--json"))
    assert report["trials"] == 25
    roc = report["roc"]
    assert roc["trials"] == 24
    assert [row["auc"] for row in roc["per_participant"]] == [0.96875] * 3
    assert roc["auc"]["method"] == "obuchowski-rockette-hillis"
    assert roc["auc"]["estimate"] == pytest.approx(0.96875)
    # Readers who agree exactly leave case variance only: infinite df (None in JSON).
    assert roc["auc"]["df"] is None and roc["auc"]["se"] > 0
    summary = _run("--from-csv", str(path))
    assert "ROC AUC, reader-averaged: 0.969 (95% CI" in summary
    assert "by obuchowski-rockette-hillis" in summary
    unrated = tmp_path / "unrated.csv"
    unrated.write_text("\n".join(line.rsplit(",", 1)[0] for line in rows) + "\n")
    assert "roc" not in json.loads(_run("--from-csv", str(unrated), "--json"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("participant,image,answer\n1,2,real\n", "missing column(s) true_label"),
        ("participant,image,true_label,answer\n1,2,fake,real\n", "line 2: true_label must be"),
        ("participant,image,true_label,answer\n1,,real,real\n", "line 2: image is empty"),
        (
            "participant,image,true_label,answer,response_ms\n1,2,real,real,-4\n",
            "line 2: response_ms must be a non-negative number",
        ),
        (
            "participant,image,true_label,answer,rating\n1,2,real,real,sure\n",
            "line 2: rating must be a number, not 'sure'",
        ),
        (
            "participant,image,true_label,answer,rating\n1,2,real,real,nan\n",
            "line 2: rating must be a number, not 'nan'",
        ),
    ],
)
def test_a_malformed_csv_is_named_with_its_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CommandError, match=rf"bad\.csv.*{re.escape(message)}"):
        _run("--from-csv", str(path))


def test_a_study_or_a_csv_must_be_named(db, tmp_path):
    with pytest.raises(CommandError, match="Name a study or give --from-csv"):
        _run()
    with pytest.raises(CommandError, match="No study with the slug 'nope'"):
        _run("nope")
    with pytest.raises(CommandError, match="cannot be read"):
        _run("--from-csv", str(tmp_path / "absent.csv"))
