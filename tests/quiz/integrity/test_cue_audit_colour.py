"""The low-level cue audit on colour studies: luminance features and colour statistics."""

import numpy as np
import pytest
from PIL import Image as PILImage

from quiz.imaging import as_grey, as_rgb
from quiz.integrity.cue_audit import cue_audit, describe_cues
from quiz.integrity.cue_audit.features import colour_statistics, image_features
from quiz.models import Study
from tests.quiz.studies.colour_studies import COLOUR, GREY, ColourWorld, colour_pixels


def test_colour_statistics_are_channel_means_and_hsv_saturation():
    pixels = np.zeros((4, 4, 3), np.uint8)
    pixels[..., 0] = 200  # pure-ish red: saturation 255 (HSV S = (max - min) / max)
    pixels[:2, :, 2] = 100  # top half magenta-red: S = (200 - 0) / 200 still 255
    found = colour_statistics(pixels)
    assert found["red_mean"] == 200 and found["green_mean"] == 0 and found["blue_mean"] == 50
    assert found["saturation"] == 255
    # Grey pixels: three equal means, no saturation, whether stored grey or as equal channels.
    grey = np.random.default_rng(3).integers(0, 256, (8, 8), dtype=np.uint8)
    for pixels in (grey, as_rgb(grey)):
        found = colour_statistics(pixels)
        assert found["red_mean"] == found["green_mean"] == found["blue_mean"] == grey.mean()
        assert found["saturation"] == 0
    # Pillow's own conversion agrees for colour pixels.
    colour = colour_pixels(4, 16)
    hsv = np.asarray(PILImage.fromarray(colour).convert("HSV"))
    assert colour_statistics(colour)["saturation"] == pytest.approx(hsv[..., 1].mean())


def test_the_luminance_features_of_a_colour_image_are_those_of_its_grey_version():
    colour = colour_pixels(5, 32)
    on_colour = image_features(colour, with_blockiness=True, with_colour=True)
    on_grey = image_features(as_grey(colour), with_blockiness=True)
    assert {name: on_colour[name] for name in on_grey} == on_grey
    assert list(on_colour)[-4:] == ["red_mean", "green_mean", "blue_mean", "saturation"]


@pytest.mark.django_db
def test_a_generators_blue_tint_is_named_as_what_gives_it_away():
    world = ColourWorld(synthetic_tint=(-25, 0, 35))
    study = Study.objects.create(name="tinted", slug="tinted")
    study.images.set([*world.held_out, *world.synthetic])

    cues = cue_audit(study)
    assert cues["rendering_cues"] == []
    assert cues["modes"] == "real: 20 colour; synthetic: 20 colour"
    named = [entry["name"] for entry in cues["cues"]]
    assert "blue_mean" in named and "red_mean" in named
    blue = next(entry for entry in cues["cues"] if entry["name"] == "blue_mean")
    assert blue["synthetic_median"] > blue["real_median"] + 20
    assert any(
        line.startswith("What gives it away: mean blue channel") for line in describe_cues(cues)
    )


@pytest.mark.django_db
def test_an_untinted_colour_study_shows_no_colour_cue_and_a_grey_one_no_colour_features():
    colour = ColourWorld(name="plain")
    study = Study.objects.create(name="plain", slug="plain")
    study.images.set([*colour.held_out, *colour.synthetic])
    cues = cue_audit(study)
    assert {"red_mean", "saturation"} <= {entry["name"] for entry in cues["features"]}
    assert not {"red_mean", "green_mean", "blue_mean", "saturation"} & {
        entry["name"] for entry in cues["cues"]
    }

    grey = ColourWorld(name="grey", real_modes=(GREY,), synthetic_mode=GREY)
    study = Study.objects.create(name="grey", slug="grey")
    study.images.set([*grey.held_out, *grey.synthetic])
    assert "saturation" not in {entry["name"] for entry in cue_audit(study)["features"]}


@pytest.mark.django_db
def test_grey_real_images_against_colour_synthetic_ones_separate_by_saturation():
    world = ColourWorld(real_modes=(GREY,), synthetic_mode=COLOUR)
    study = Study.objects.create(name="mixed", slug="mixed", mixed_modes_acknowledgement="A test.")
    study.images.set([*world.held_out, *world.synthetic])

    cues = cue_audit(study)
    saturation = next(entry for entry in cues["cues"] if entry["name"] == "saturation")
    assert saturation["served"]["auc"] == 1.0
    assert saturation["real_median"] == 0
