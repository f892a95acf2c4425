"""Every panel of a published study is stored once, and all of them have the same byte length."""

import numpy as np
import pytest
from django.urls import reverse

from quiz.imaging import decode_png, render_panel
from quiz.models import ImageKind, StudyPanel
from quiz.studies.panels import refresh_panel_size, render_study_panels
from tests.participant_requests import consent, round_page

pytestmark = pytest.mark.django_db


def test_every_panel_of_a_study_has_the_same_byte_length(make_study):
    study = make_study(real=12, synthetic=12, size=48)
    lengths = {panel.file.size for panel in StudyPanel.objects.filter(study=study)}
    assert StudyPanel.objects.filter(study=study).count() == 24
    assert len(lengths) == 1


def test_served_panels_are_the_stored_bytes_with_one_length_for_both_kinds(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    lengths_by_kind: dict[str, set[int]] = {}
    for panel in round_.panels.select_related("image"):
        body = client.get(reverse("quiz:panel", args=[study.slug, panel.token])).content
        stored = StudyPanel.objects.get(study=study, image=panel.image)
        assert body == stored.file.open("rb").read()
        lengths_by_kind.setdefault(panel.image.kind, set()).add(len(body))
    assert lengths_by_kind[ImageKind.REAL] == lengths_by_kind[ImageKind.SYNTHETIC]
    assert len(lengths_by_kind[ImageKind.REAL]) == 1


def test_rendering_again_replaces_the_stored_panels_and_their_files(make_study):
    study = make_study(real=12, synthetic=12)
    old_names = set(StudyPanel.objects.values_list("file", flat=True))
    study.panel_size = 32
    study.save()
    assert render_study_panels(study) == 24
    new = StudyPanel.objects.filter(study=study)
    assert not old_names & set(new.values_list("file", flat=True))
    storage = new.first().file.storage
    assert not any(storage.exists(name) for name in old_names)
    assert new.first().file.read()[16:24] == (32).to_bytes(4, "big") * 2


def test_an_unrendered_study_serves_no_panel(client, make_study):
    study = make_study()
    consent(client, study)
    round_, _ = round_page(client, study)
    StudyPanel.objects.all().delete()
    response = client.get(reverse("quiz:panel", args=[study.slug, round_.panels.first().token]))
    assert response.status_code == 404


def test_a_real_panel_of_a_non_rectangular_field_shows_only_the_rectangle_inside_it(make_study):
    study = make_study(real=12, synthetic=12, size=48)
    real = study.images.filter(kind=ImageKind.REAL)
    real.update(panel_box=[4, 6, 44, 46])
    # Its panels are rendered from the 40 px rectangle: the panel size follows, never enlarging.
    study.is_published = False
    assert refresh_panel_size(study).size == study.panel_size == 40
    render_study_panels(study)
    for image in real:
        with StudyPanel.objects.get(study=study, image=image).file.open("rb") as handle:
            shown = decode_png(handle.read())
        assert np.array_equal(shown, render_panel(image.pixels()[6:46, 4:44], study.panel_size))
