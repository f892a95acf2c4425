import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from quiz.analysis.charts import Interval, dot_plot, interval_chart
from quiz.analysis.trials import TRIAL_FIELDS
from quiz.models import (
    CountedSessions,
    Dataset,
    Expertise,
    Guess,
    Image,
    ImageKind,
    Participant,
    Round,
    RoundPanel,
    Study,
    TrainingRun,
)


@pytest.fixture
def study(db):
    """One submitted round (real B judged real, synthetic A judged real) and one open round: a
    partial session, which this study's rule counts."""
    dataset = Dataset.objects.create(name="thyroid")
    real = Image.objects.create(
        kind=ImageKind.REAL,
        file=ContentFile(b"png", name="x.png"),
        width=64,
        height=64,
        sha256="r",
        dataset=dataset,
    )
    run = TrainingRun.objects.create(dataset=dataset, name="dcgan <baseline>")
    fake = Image.objects.create(
        kind=ImageKind.SYNTHETIC,
        file=ContentFile(b"png", name="x.png"),
        width=64,
        height=64,
        sha256="s",
        training_run=run,
        checkpoint_step=4000,
        seed=7,
    )
    study = Study.objects.create(
        name="Thyroid",
        is_published=True,
        results_public=True,
        counted_sessions=CountedSessions.FINISHED_AND_PARTIAL,
    )
    participant = Participant.objects.create(study=study, expertise=Expertise.STUDENT)
    submitted = Round.objects.create(participant=participant, submitted_at=timezone.now())
    for letter, image in (("A", fake), ("B", real)):
        panel = RoundPanel.objects.create(round=submitted, letter=letter, image=image)
        Guess.objects.create(panel=panel, answer="real", correct=image is real, response_ms=900)
    open_round = Round.objects.create(participant=participant, index=1)
    RoundPanel.objects.create(round=open_round, letter="A", image=fake)
    study.images_by_letter = {"A": fake, "B": real}
    return study


def test_stats_page_shows_figures_and_charts_without_login(client, study):
    response = client.get(reverse("quiz:stats", args=[study.slug]))
    assert response.status_code == 200
    page = " ".join(response.content.decode().split())
    assert '<span data-stat="trials">2</span> test trials' in page
    # One participant: one of two correct, the fake fooled its one viewer.
    assert (
        '<tr data-figure="accuracy"><td>Accuracy, all panels</td> <td class="pct">50.0%</td>'
        in page
    )
    assert '<tr data-figure="fooling_rate">' in page and "100.0%" in page
    assert "9.5% to 90.5%" in page  # the naive Wilson interval of 1 of 2
    assert page.count("<svg") == 5
    assert "dcgan &lt;baseline&gt;" in page
    assert "<baseline>" not in page
    assert "student" in page
    assert reverse("quiz:trials_csv", args=[study.slug]) in page
    assert reverse("quiz:report_json", args=[study.slug]) in page
    assert "participant-level (cluster) bootstrap" in page  # the methods paragraph


def test_the_public_page_shows_no_thumbnails_or_flags_but_staff_see_them(
    client, study, django_user_model
):
    public = client.get(reverse("quiz:stats", args=[study.slug])).content.decode()
    assert "/staff/images/" not in public and "Flagged for review" not in public
    client.force_login(django_user_model.objects.create_user("s", password="x", is_staff=True))
    staff = client.get(reverse("quiz:stats", args=[study.slug])).content.decode()
    assert "/staff/images/" in staff and "Flagged for review" in staff


def test_the_report_json_has_the_documented_keys(client, study):
    report = client.get(reverse("quiz:report_json", args=[study.slug])).json()
    for key in (
        "participants",
        "trials",
        "accuracy",
        "balanced_accuracy",
        "fooling_rate",
        "real_accuracy",
        "dprime",
        "criterion",
        "hype_error",
        "agreement",
        "by_expertise",
        "by_generator",
        "generator_comparisons",
        "per_image",
        "position",
        "equivalence",
        "power",
        "model",
        "dprime_convention",
        "exclusions",
        "software",
    ):
        assert key in report, key
    assert set(report["accuracy"]) >= {"estimate", "ci95", "naive_ci95", "p_vs_chance"}
    assert (report["participants"], report["trials"]) == (1, 2)


def test_the_report_is_cached_until_a_trial_arrives(client, study, django_assert_max_num_queries):
    from quiz.analysis import reports

    calls = []
    original = reports.compute_report
    reports.compute_report = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        client.get(reverse("quiz:report_json", args=[study.slug]))
        client.get(reverse("quiz:report_json", args=[study.slug]))
        assert len(calls) == 1
        open_round = Round.objects.get(submitted_at__isnull=True)
        Round.objects.filter(pk=open_round.pk).update(submitted_at=timezone.now())
        Guess.objects.create(
            panel=open_round.panels.get(), answer="synthetic", correct=True, response_ms=700
        )
        assert client.get(reverse("quiz:report_json", args=[study.slug])).json()["trials"] == 3
        assert len(calls) == 2
    finally:
        reports.compute_report = original


def test_stats_page_never_shows_stored_paths(client, study):
    page = client.get(reverse("quiz:stats", args=[study.slug])).content.decode()
    for image in study.images_by_letter.values():
        assert image.file.name not in page


def test_stats_page_before_any_submitted_round(client, db):
    study = Study.objects.create(name="Fresh", is_published=True, results_public=True)
    response = client.get(reverse("quiz:stats", args=[study.slug]))
    assert response.status_code == 200
    assert "No one has submitted a round of this study yet" in response.content.decode()
    assert b"<svg" not in response.content


def test_stats_of_an_unknown_study_are_not_found(client, db):
    assert client.get(reverse("quiz:stats", args=["nope"])).status_code == 404
    assert client.get(reverse("quiz:trials_csv", args=["nope"])).status_code == 404


def test_trials_csv_has_a_header_and_one_row_per_submitted_guess(client, study):
    response = client.get(reverse("quiz:trials_csv", args=[study.slug]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="thyroid-trials.csv"'
    content = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(content))
    assert tuple(reader.fieldnames) == TRIAL_FIELDS
    rows = list(reader)
    assert [(row["letter"], row["true_label"], row["answer"], row["correct"]) for row in rows] == [
        ("A", "synthetic", "real", "0"),
        ("B", "real", "real", "1"),
    ]
    fake = study.images_by_letter["A"]
    assert rows[0]["image"] == str(fake.pk)
    assert (rows[0]["checkpoint_step"], rows[0]["seed"]) == ("4000", "7")
    assert rows[1]["training_run"] == rows[1]["seed"] == ""
    assert fake.file.name not in content


def test_trials_csv_of_a_study_without_trials_is_just_the_header(client, db):
    study = Study.objects.create(name="Fresh", is_published=True, results_public=True)
    response = client.get(reverse("quiz:trials_csv", args=[study.slug]))
    content = b"".join(response.streaming_content).decode()
    assert content.splitlines() == [",".join(TRIAL_FIELDS)]


def test_interval_chart_draws_each_rate_with_an_accessible_title():
    svg = interval_chart(
        [Interval("Run <a>", 0.75, 0.3, 0.95, "n = 4"), Interval("Empty", None)], title="Fooling"
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img" aria-label="Fooling"' in svg
    assert "<title>Run &lt;a&gt;: 75.0% (95% CI 30.0% to 95.0%), n = 4</title>" in svg
    assert svg.count("<circle") == 1
    assert "not measured" in svg
    assert 'stroke-dasharray="4 3"' in svg


def test_dot_plot_draws_one_dot_per_participant_stacking_equal_values():
    svg = dot_plot([0.5, 0.5, 0.8], title="Spread")
    assert svg.count("<circle") == 3
    assert svg.count("<title>50.0%</title>") == 2


@pytest.mark.parametrize(
    ("published", "public", "visible"),
    [(False, True, False), (True, False, False), (True, True, True)],
)
def test_results_are_public_only_when_published_with_public_results(
    client, study, published, public, visible
):
    Study.objects.filter(pk=study.pk).update(is_published=published, results_public=public)
    for name in ("quiz:stats", "quiz:trials_csv"):
        response = client.get(reverse(name, args=[study.slug]))
        assert response.status_code == (200 if visible else 404)


def test_staff_always_see_the_results(client, study, django_user_model):
    Study.objects.filter(pk=study.pk).update(is_published=False, results_public=False)
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("quiz:stats", args=[study.slug])).status_code == 200
    assert client.get(reverse("quiz:trials_csv", args=[study.slug])).status_code == 200
