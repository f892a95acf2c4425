"""A colour study end to end: a generic dataset of RGB images and a generator's RGB images, built
by the study builder, published through the leak audit, taken by participants through the test
client, and reported on the statistics page."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image as PILImage

from quiz.models import Guess, ImageKind, LeakAudit, Study
from quiz.studies.builder import create_study, plan_study
from tests.participant_requests import answers_for, consent, round_page
from tests.quiz.studies.colour_studies import ColourWorld

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.full_audit]


def test_a_colour_study_is_built_published_taken_and_reported():
    world = ColourWorld(held_out=20, synthetic=20, size=40)
    plan = plan_study(world.dataset, [world.generator])
    assert plan.problems == []
    study = create_study(plan, name="Faces in colour", slug="faces", layout="grid")
    Study.objects.filter(pk=study.pk).update(results_public=True)

    out = io.StringIO()
    call_command("audit_leaks", study.slug, "--publish", stdout=out)
    audit = LeakAudit.objects.get(study=study)
    assert audit.passed is True, out.getvalue()
    report = audit.report
    # The files differ in nothing but pixels: one length, size and format for both classes.
    assert report["by_group"]["content-length"] is None
    assert report["by_group"]["format"] is None
    assert report["low_level_cues"]["modes"] == "real: 20 colour; synthetic: 20 colour"
    study.refresh_from_db()
    assert study.is_published

    answered = {}
    for participant in range(3):
        client = Client()
        consent(client, study, expertise="none")
        answered[participant] = 0
        # Every round of the session: the figures count finished sessions.
        while client.get(reverse("quiz:round", args=[study.slug])).status_code == 200:
            round_, _ = round_page(client, study)
            _assert_rgb_panels_of_one_length(client, study, round_)
            answers = answers_for(round_, correct=participant != 1)
            response = client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers)
            assert response.status_code == 302
            answered[participant] += round_.panels.count()
    guesses = Guess.objects.filter(panel__round__participant__study=study)
    assert answered[0] == answered[1] == answered[2] >= 20
    assert guesses.count() == sum(answered.values())
    # Scoring works on colour panels: participant 1 answered every panel wrongly.
    assert guesses.filter(correct=True).count() == answered[0] + answered[2]

    page = Client().get(reverse("quiz:stats", args=[study.slug]))
    assert page.status_code == 200
    methods = re.search(r'<p id="methods">(.*?)</p>', page.content.decode(), re.S)[1]
    assert "3 participants" in methods
    assert "shown at 40 px as colour (RGB) panels" in methods


def _assert_rgb_panels_of_one_length(client: Client, study: Study, round_) -> None:
    lengths: dict[str, set[int]] = {ImageKind.REAL: set(), ImageKind.SYNTHETIC: set()}
    for panel in round_.panels.select_related("image"):
        for view in ("quiz:panel", "quiz:panel_full"):
            body = client.get(reverse(view, args=[study.slug, panel.token])).content
            with PILImage.open(io.BytesIO(body)) as image:
                assert (image.format, image.mode) == ("PNG", "RGB")
                assert image.size == (study.panel_size, study.panel_size)
            if view == "quiz:panel":
                lengths[panel.image.kind].add(len(body))
    assert lengths[ImageKind.REAL] == lengths[ImageKind.SYNTHETIC]
    assert len(lengths[ImageKind.REAL]) == 1
