"""Colour studies at publish: one panel mode per study, mixed modes refused unless acknowledged
(by the publish rules and the builder alike), and the memorisation guard on colour images."""

import io

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image as PILImage

from quiz.imaging import as_rgb, decode_png, render_panel
from quiz.models import ImageKind, Study, StudyPanel
from quiz.studies.builder import create_study, plan_study
from quiz.studies.panels import render_study_panels, study_modes, study_sizing
from quiz.studies.rules import near_copy_pairs, study_problems, study_warnings
from tests.quiz.studies.colour_studies import COLOUR, GREY, ColourWorld, store

pytestmark = pytest.mark.django_db


def _study(world: ColourWorld, **fields) -> Study:
    study = Study.objects.create(name=world.dataset.name, slug=world.dataset.name, **fields)
    study.images.set([*world.held_out, *world.synthetic])
    return study


def _panels(study: Study) -> list[tuple[str, bytes, bytes]]:
    """(kind, panel bytes, viewer rendition bytes) of each stored panel."""
    rows = StudyPanel.objects.filter(study=study).select_related("image")
    return [(p.image.kind, p.file.open("rb").read(), p.full_file.open("rb").read()) for p in rows]


def _mode(data: bytes) -> str:
    with PILImage.open(io.BytesIO(data)) as image:
        return image.mode


def _mode_problems(study: Study) -> list[str]:
    return [p for p in study_problems(study) if "mixes grey and colour" in p]


def test_a_colour_study_has_rgb_panels_of_one_byte_length_and_passes_the_rules():
    world = ColourWorld()
    study = _study(world)

    assert study_problems(study) == []
    assert render_study_panels(study) == 40
    panels = _panels(study)
    assert {_mode(panel) for _, panel, _ in panels} == {"RGB"}
    assert {_mode(full) for _, _, full in panels} == {"RGB"}
    for index in (1, 2):  # the panels, then the viewer renditions: one length for both classes
        lengths = {
            kind: {len(row[index]) for row in panels if row[0] == kind}
            for kind in (ImageKind.REAL, ImageKind.SYNTHETIC)
        }
        assert lengths[ImageKind.REAL] == lengths[ImageKind.SYNTHETIC]
        assert len(lengths[ImageKind.REAL]) == 1
    # The pixels are the image's colour pixels, rendered.
    image = world.held_out[0]
    stored = StudyPanel.objects.get(study=study, image=image).file.open("rb").read()
    assert np.array_equal(decode_png(stored), render_panel(image.pixels(), study.panel_size))
    assert (
        study_sizing(study).note == "images 40 px natively, shown at 40 px as colour (RGB) panels"
    )


def test_a_grey_study_keeps_grey_panels_and_says_nothing_of_modes():
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=GREY)
    study = _study(world)

    assert study_problems(study) == []
    render_study_panels(study)
    assert {_mode(panel) for _, panel, _ in _panels(study)} == {"L"}
    assert study_sizing(study).note == "images 40 px natively, shown at 40 px"


def test_grey_real_and_colour_synthetic_images_are_refused_saying_the_colour_alone_tells():
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)
    study = _study(world)

    (problem,) = _mode_problems(study)
    assert "(real: 20 grey; synthetic: 20 colour)" in problem
    assert "the colour alone tells a participant which images are real" in problem
    assert "mixed modes acknowledgement" in problem
    assert study_modes(study).reveals_class


def test_a_mix_within_the_classes_is_refused_naming_the_counts_per_class():
    world = ColourWorld(real_modes=(COLOUR, COLOUR, COLOUR, GREY), synthetic_mode=COLOUR)
    study = _study(world)

    (problem,) = _mode_problems(study)
    assert "(real: 5 grey, 15 colour; synthetic: 20 colour)" in problem
    assert "colourless RGB panels" in problem
    assert "alone tells" not in problem
    # Practice and catch images count too: a grey catch image in a colour study is a cue.
    colour_only = _study(ColourWorld(name="all-colour"))
    assert _mode_problems(colour_only) == []
    grey_catch = store(
        ImageKind.SYNTHETIC, np.zeros((40, 40), np.uint8), training_run=world.run, seed=99
    )
    colour_only.catch_images.add(grey_catch)
    (problem,) = _mode_problems(colour_only)
    assert "synthetic: 1 grey, 20 colour" in problem


def test_an_acknowledged_mix_is_a_warning_and_its_panels_share_one_mode_and_length():
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)
    statement = "Grey reference scans against a colour generator, to measure the mode's effect."
    study = _study(world, mixed_modes_acknowledgement=statement)

    assert study_problems(study) == []
    (warning,) = [w for w in study_warnings(study) if "mixes grey and colour" in w]
    assert warning.endswith(f"Published under this acknowledgement: {statement}")
    render_study_panels(study)
    panels = _panels(study)
    # Grey images join the colour ones as RGB panels with three equal channels: nothing but the
    # pixels differs between the files.
    assert {_mode(panel) for _, panel, _ in panels} == {"RGB"}
    assert len({len(panel) for _, panel, _ in panels}) == 1
    assert len({len(full) for _, _, full in panels}) == 1
    grey = world.held_out[0]
    shown = decode_png(StudyPanel.objects.get(study=study, image=grey).file.open("rb").read())
    assert np.array_equal(shown, as_rgb(render_panel(grey.pixels(), study.panel_size)))
    assert "RGB panels of grey and colour images (real: 20 grey; synthetic: 20 colour)" in (
        study_sizing(study).note
    )


def test_the_builder_refuses_a_mix_of_modes_unless_acknowledged_and_the_study_keeps_it():
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)

    plan = plan_study(world.dataset, [world.generator])
    (problem,) = plan.problems
    assert "(real: 20 grey; synthetic: 20 colour)" in problem
    assert "the colour alone tells" in problem
    text = "\n".join(plan.lines())
    assert "Panels: RGB panels of grey and colour images" in text

    statement = "Measuring what colour alone gives away."
    plan = plan_study(world.dataset, [world.generator], mixed_modes_acknowledgement=statement)
    assert plan.problems == []
    assert any(note.endswith(f"Acknowledged: {statement}") for note in plan.notes)
    study = create_study(plan, name="Mixed", slug="mixed", layout="grid")
    assert study.mixed_modes_acknowledgement == statement
    assert _mode_problems(study) == []


def test_the_builder_shows_a_colour_plan_without_problems():
    world = ColourWorld()
    plan = plan_study(world.dataset, [world.generator])
    assert plan.problems == []
    assert "Panels: colour (RGB) panels (real: 20 colour; synthetic: 20 colour)" in plan.lines()


def test_the_memorisation_guard_flags_a_copy_of_a_colour_training_image():
    world = ColourWorld()
    study = _study(world)
    source = world.train[2]
    copy = store(
        ImageKind.SYNTHETIC, source.pixels(), training_run=world.run, checkpoint_step=50, seed=77
    )
    study.images.add(copy)

    pairs = near_copy_pairs(study)
    assert [(pair["synthetic_id"], pair["training_id"]) for pair in pairs] == [(copy.pk, source.pk)]
    assert pairs[0]["distance"] == 0
    assert any(f"Synthetic image #{copy.pk} is a near-copy" in p for p in study_problems(study))


def test_the_command_refuses_a_mix_unless_given_the_acknowledgement():
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)
    arguments = ["--name", "Mixed", "--slug", "mixed", "--real", world.dataset.name]
    arguments += ["--generator", world.generator.name]

    with pytest.raises(CommandError) as refused:
        call_command("create_study", *arguments, stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert "(real: 20 grey; synthetic: 20 colour)" in str(refused.value)
    assert not Study.objects.filter(slug="mixed").exists()

    out = io.StringIO()
    call_command(
        "create_study", *arguments, "--mixed-modes-acknowledgement", "A measured mix.", stdout=out
    )
    assert "Panels: RGB panels of grey and colour images" in out.getvalue()
    assert Study.objects.get(slug="mixed").mixed_modes_acknowledgement == "A measured mix."
