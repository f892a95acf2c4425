import csv
import io

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from quiz.charts import proportion_chart
from quiz.models import (
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
from quiz.stats import Proportion
from quiz.trials import TRIAL_FIELDS


@pytest.fixture
def study(db):
    """One submitted round (real B judged real, synthetic A judged real) and one open round."""
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
    study = Study.objects.create(name="Thyroid", is_published=True, results_public=True)
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
    assert '1 submitted round, <span data-stat="trials">2</span> trials' in page
    # One of two correct; the fake fooled its one viewer.
    assert str(Proportion.of(1, 2)) in page
    assert "50.0% (95% CI 9.5–90.5%)" in page
    assert "100.0% (95% CI 20.7–100.0%)" in page
    assert page.count("<svg") == 2
    assert "dcgan &lt;baseline&gt;" in page
    assert "<baseline>" not in page
    assert "Student or trainee" in page
    assert reverse("quiz:trials_csv", args=[study.slug]) in page


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


def test_chart_draws_each_proportion_with_an_accessible_title():
    svg = proportion_chart(
        [("Run <a>", Proportion.of(3, 4)), ("Empty", Proportion.of(0, 0))], title="Fooling"
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img" aria-label="Fooling"' in svg
    assert "<title>Run &lt;a&gt;: 75.0% (95% CI 30.1–95.4%), n = 4</title>" in svg
    assert svg.count("<circle") == 1
    assert "no trials" in svg
    assert 'stroke-dasharray="4 3"' in svg


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
