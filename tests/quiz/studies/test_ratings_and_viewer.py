"""Confidence ratings and the viewer through the test client: a rated round records its ratings
and derives the answers, a bad rating or viewer time is refused naming the panel, the viewer's
rendition is served (not in timed rounds), and the report and CSV carry the ratings."""

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage

from quiz.models import Guess, ImageKind, Round, StudyPanel
from quiz.studies.panels import render_study_panels
from tests.participant_requests import consent, round_page

pytestmark = pytest.mark.django_db

POINTS = 6


def _rated_answers(round_: Round, pick) -> dict[str, str]:
    """Each panel rated pick(panel): a rating from 1 to POINTS."""
    answers = {}
    for panel in round_.panels.select_related("image"):
        answers[f"panel-{panel.token}"] = str(pick(panel))
        answers[f"time-{panel.token}"] = "900"
    return answers


def _submit(client, study, round_, answers):
    return client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)


def test_a_rated_round_shows_the_scale_with_no_point_chosen(client, make_study):
    study = make_study(rating_points=POINTS)
    consent(client, study)
    round_, page = round_page(client, study)
    assert round_.rating_points == POINTS  # copied like the layout and feedback
    token = round_.panels.first().token
    for value in range(1, POINTS + 1):
        assert f'name="panel-{token}" value="{value}"' in page
    assert 'value="real"' not in page and "checked" not in page
    assert "1 of 6, certainly real" in page and "6 of 6, certainly synthetic" in page
    assert "3 of 6, leaning real" in page and "4 of 6, leaning synthetic" in page


def test_ratings_are_recorded_and_the_answer_derived_from_them(client, make_study):
    study = make_study(rating_points=POINTS)
    consent(client, study)
    round_, _ = round_page(client, study)
    # Synthetic panels rated 4..6 by letter, real ones 1..3: every answer right, and the
    # middle points (3 real, 4 synthetic) both used.
    ratings = {}
    for index, panel in enumerate(round_.panels.select_related("image")):
        synthetic = panel.image.kind == ImageKind.SYNTHETIC
        ratings[panel.letter] = (4 if synthetic else 1) + index % 3

    response = _submit(client, study, round_, _rated_answers(round_, lambda p: ratings[p.letter]))
    assert response.status_code == 302
    guesses = {g.panel.letter: g for g in Guess.objects.select_related("panel__image")}
    assert {letter: g.rating for letter, g in guesses.items()} == ratings
    for guess in guesses.values():
        assert guess.answer == ("real" if guess.rating <= POINTS // 2 else "synthetic")
        assert guess.correct
        assert guess.viewer_ms is None  # the viewer was not opened


@pytest.mark.parametrize("bad", ["0", "7", "-1", "3.5", "real", "٣", "99999999999999999999"])
def test_a_rating_off_the_scale_is_refused_naming_the_panel(client, make_study, bad):
    study = make_study(rating_points=POINTS)
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = _rated_answers(round_, lambda panel: 2)
    answers[f"panel-{round_.panels.get(letter='D').token}"] = bad
    response = _submit(client, study, round_, answers)
    assert response.status_code == 400
    body = response.content.decode()
    assert "panel D" in body and "from 1 to 6" in body
    assert not Guess.objects.exists()
    assert Round.objects.get(pk=round_.pk).submitted_at is None


def test_an_unrated_panel_is_named(client, make_study):
    study = make_study(rating_points=POINTS)
    consent(client, study)
    round_, _ = round_page(client, study)
    answers = _rated_answers(round_, lambda panel: 5)
    del answers[f"panel-{round_.panels.get(letter='B').token}"]
    response = _submit(client, study, round_, answers)
    assert response.status_code == 400
    assert "B is unanswered" in response.content.decode()
    assert not Guess.objects.exists()


def test_viewer_times_are_recorded_and_bad_ones_refused(client, make_study):
    study = make_study()
    consent(client, study)
    round_, page = round_page(client, study)
    panel = round_.panels.get(letter="E")
    assert f'name="viewer-{panel.token}"' in page
    answers = {
        **{f"panel-{p.token}": "real" for p in round_.panels.all()},
        f"viewer-{panel.token}": "nonsense",
    }
    refused = _submit(client, study, round_, answers)
    assert refused.status_code == 400
    assert "viewer time sent for panel E" in refused.content.decode()
    assert not Guess.objects.exists()

    answers[f"viewer-{panel.token}"] = "2500"
    assert _submit(client, study, round_, answers).status_code == 302
    times = dict(Guess.objects.values_list("panel__letter", "viewer_ms"))
    assert times.pop("E") == 2500
    assert set(times.values()) == {None}


def test_the_viewer_rendition_is_served_at_the_studys_viewer_size(client, make_study):
    # 600 px images: panels at the 512 px cap, the viewer at their native 600 px.
    study = make_study(real=12, synthetic=12, size=600)
    assert study.panel_size == 512
    consent(client, study)
    round_, page = round_page(client, study)
    lengths = set()
    for panel in round_.panels.all():
        url = reverse("quiz:panel_full", args=[study.slug, panel.token])
        assert f'data-viewer="{url}"' in page
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "no-store, private"
        assert PILImage.open(io.BytesIO(response.content)).size == (600, 600)
        lengths.add(len(response.content))
    assert len(lengths) == 1
    # Stored under random names, like the panels.
    names = [p.full_file.name for p in StudyPanel.objects.filter(study=study)]
    assert all(name.startswith("panels/") and name.endswith(".png") for name in names)
    assert len(set(names)) == len(names)


def test_images_of_different_native_sizes_share_one_viewer_size(make_study):
    # Viewer renditions at each image's own side would tell the classes apart by dimensions.
    study = make_study(real=12, synthetic=12, size=700)
    image = study.images.filter(kind=ImageKind.SYNTHETIC).first()
    image.width = image.height = 640  # stands for a generator that makes smaller images
    image.save()
    image.file.save("small.png", io.BytesIO(_png(640)))
    study.is_published = False
    study.save()
    render_study_panels(study)
    sizes = {
        PILImage.open(panel.full_file.open("rb")).size
        for panel in StudyPanel.objects.filter(study=study)
    }
    assert sizes == {(640, 640)}


def _png(side: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8)
    PILImage.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_timed_round_has_no_viewer(client, make_study):
    study = make_study(exposure_ms=500)
    consent(client, study)
    round_, page = round_page(client, study)
    assert "data-viewer" not in page and 'id="viewer"' not in page
    panel = round_.panels.first()
    assert client.get(reverse("quiz:panel_full", args=[study.slug, panel.token])).status_code == 404
    answers = {f"panel-{p.token}": "real" for p in round_.panels.all()}
    answers[f"viewer-{panel.token}"] = "100"
    response = _submit(client, study, round_, answers)
    assert response.status_code == 400
    assert "timed and has no viewer" in response.content.decode()
    assert not Guess.objects.exists()


def test_the_report_has_a_roc_block_and_the_csv_the_ratings(client, make_study, admin_client):
    from django.test import Client

    study = make_study(
        real=20, synthetic=20, rating_points=POINTS, feedback="none", rounds_per_session=1
    )
    rng = np.random.default_rng(3)
    for _ in range(3):
        participant = Client()
        consent(participant, study)
        round_, _ = round_page(participant, study)
        picks = {
            panel.pk: int(
                rng.integers(3, 7) if panel.image.kind == "synthetic" else rng.integers(1, 5)
            )
            for panel in round_.panels.select_related("image")
        }
        answers = _rated_answers(round_, lambda panel, picks=picks: picks[panel.pk])
        assert _submit(participant, study, round_, answers).status_code == 302

    out = io.StringIO()
    call_command("study_report", study.slug, "--json", stdout=out)
    roc = json.loads(out.getvalue())["roc"]
    assert roc["positive_class"] == "synthetic"
    assert len(roc["per_participant"]) == 3
    assert all(0 <= row["auc"] <= 1 for row in roc["per_participant"])
    assert roc["auc"]["method"] == "two-way bootstrap"

    response = admin_client.get(reverse("quiz:trials_csv", args=[study.slug]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 30
    stored = dict(Guess.objects.values_list("panel__round__participant_id", "rating"))
    assert {row["rating_points"] for row in rows} == {"6"}
    for row in rows:
        rating = int(row["rating"])
        assert 1 <= rating <= POINTS
        assert row["answer"] == ("real" if rating <= 3 else "synthetic")
        assert row["viewer_ms"] == ""
    assert stored  # the ratings came from the database

    page = admin_client.get(reverse("quiz:stats", args=[study.slug])).content.decode()
    assert 'id="roc"' in page and "Reader-averaged AUC" in page
    assert page.count('class="roc-curve"') == 3
    assert "two-way bootstrap over participants and images" in page
