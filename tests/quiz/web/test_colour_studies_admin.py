"""Colour in the admin: the builder screen names the panels' mode and refuses a mix of grey and
colour images until acknowledged; the study page keeps the acknowledgement, and the report's
methods print it."""

import pytest
from django.urls import reverse

from quiz.analysis.reports import methods_paragraph, study_report
from quiz.models import Study
from quiz.studies.panels import render_study_panels
from tests.participant_requests import answers_for, consent, round_page
from tests.quiz.studies.colour_studies import COLOUR, GREY, ColourWorld

pytestmark = pytest.mark.django_db

BUILD = reverse("admin:quiz_study_build")


def _form(world: ColourWorld, **fields) -> dict:
    return {
        "name": "Mixed",
        "slug": "",
        "real": world.dataset.pk,
        "generators": [world.generator.pk],
        "real_count": "",
        "per_generator": "",
        "layout": "grid",
        "seed": "0",
        "fingerprint": "",
        "mixed_modes_acknowledgement": "",
        **fields,
    }


def test_the_builder_screen_refuses_a_mix_until_acknowledged(admin_client):
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)

    page = admin_client.post(BUILD, {**_form(world), "preview": "1"}).content.decode()
    assert "The study mixes grey and colour images (real: 20 grey; synthetic: 20 colour)" in page
    assert "the colour alone tells a participant which images are real" in page
    assert 'id="plan-modes"' in page and "RGB panels of grey and colour images" in page
    assert 'name="create"' not in page

    statement = "Measuring what colour alone gives away."
    preview = admin_client.post(
        BUILD, {**_form(world, mixed_modes_acknowledgement=statement), "preview": "1"}
    )
    assert 'name="create"' in preview.content.decode()
    fingerprint = preview.context["form"]["fingerprint"].value()
    admin_client.post(
        BUILD,
        {
            **_form(world, mixed_modes_acknowledgement=statement),
            "fingerprint": fingerprint,
            "create": "1",
        },
    )
    study = Study.objects.get(slug="mixed")
    assert study.mixed_modes_acknowledgement == statement
    change = admin_client.get(reverse("admin:quiz_study_change", args=[study.pk]))
    assert 'name="mixed_modes_acknowledgement"' in change.content.decode()


def test_the_methods_print_an_acknowledged_mix(client):
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)
    statement = "Grey reference scans against a colour generator."
    study = Study.objects.create(
        name="Mixed", slug="mixed", mixed_modes_acknowledgement=statement, feedback="none"
    )
    study.images.set([*world.held_out, *world.synthetic])
    render_study_panels(study)
    Study.objects.filter(pk=study.pk).update(
        is_published=True, counted_sessions="finished_and_partial"
    )
    study.refresh_from_db()
    consent(client, study)
    round_, _ = round_page(client, study)
    client.post(reverse("quiz:submit", args=[study.slug, round_.token]), answers_for(round_))

    methods = methods_paragraph(study_report(study))
    assert (
        "The investigators accepted the mix of grey and colour images before data collection: "
        f"“{statement}”"
    ) in methods
    assert "RGB panels of grey and colour images (real: 20 grey; synthetic: 20 colour)" in methods
