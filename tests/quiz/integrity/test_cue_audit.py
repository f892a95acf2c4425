"""The low-level cue audit at publish: features by hand, and the studies of issue 19."""

import numpy as np
import pytest
from scipy import ndimage

from quiz import tasks
from quiz.analysis.reports import compute_report
from quiz.imaging import render_panel
from quiz.integrity.cue_audit import cue_audit, describe_cues
from quiz.integrity.cue_audit.features import (
    blockiness,
    image_features,
    moments,
    noise_sigma,
    sharpness,
    spectrum_slope,
)
from quiz.integrity.leak_audit.report import describe
from quiz.models import LeakAudit, Study
from quiz.studies.panels import PanelRenderError, render_study_panels
from tests.quiz.integrity.cue_studies import CueStudy, jpeg, speckle

# Features -----------------------------------------------------------------------------------


def test_sharpness_is_the_variance_of_the_laplacian():
    # One bright pixel: the Laplacian is -4 there, 1 at its four neighbours, 0 at the corners
    # (edges reflected), so its mean is 0 and its variance (16 + 4 * 1) / 9.
    pixels = np.zeros((3, 3), np.uint8)
    pixels[1, 1] = 1
    assert sharpness(pixels) == pytest.approx(20 / 9)
    assert sharpness(np.full((5, 5), 7, np.uint8)) == 0


def test_noise_is_the_median_diagonal_haar_coefficient_over_0_6745():
    # Blocks [[1, 0], [0, 1]] and zeros: diagonal coefficients 1 and 0, median 0.5.
    pixels = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.uint8)
    assert noise_sigma(pixels) == pytest.approx(0.5 / 0.6745)
    gaussian = 128 + 10 * np.random.default_rng(0).normal(size=(256, 256))
    assert noise_sigma(gaussian) == pytest.approx(10, rel=0.05)
    # A smooth ramp has no diagonal detail at all.
    assert noise_sigma(np.add.outer(np.arange(16), np.arange(16)).astype(np.uint8)) == 0


def test_moments_of_a_two_valued_histogram():
    # Three 0s and one 255: a Bernoulli(1/4) scaled by 255.
    p = 0.25
    found = moments(np.array([[0, 0], [0, 255]], np.uint8))
    assert found["mean"] == pytest.approx(255 * p)
    assert found["std"] == pytest.approx(255 * np.sqrt(p * (1 - p)))
    assert found["skewness"] == pytest.approx((1 - 2 * p) / np.sqrt(p * (1 - p)))
    assert found["kurtosis"] == pytest.approx((1 - 6 * p * (1 - p)) / (p * (1 - p)))


def test_the_spectrum_slope_of_power_law_noise():
    # Random phases with power ∝ f^-2 (amplitude f^-1): the fitted slope is -2; white noise 0.
    rng = np.random.default_rng(1)
    side = 128
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side)))
    frequency[0, 0] = 1
    field = np.fft.ifft2(np.exp(2j * np.pi * rng.random((side, side))) / frequency).real
    assert spectrum_slope(field) == pytest.approx(-2, abs=0.15)
    assert spectrum_slope(rng.normal(size=(side, side))) == pytest.approx(0, abs=0.15)


def test_blockiness_compares_steps_across_8px_block_edges_with_those_inside():
    # A ramp of 1 per column with a jump of 10 more at each block edge, rows alike: horizontal
    # steps are 11 across the edge and 1 inside; vertical steps are 0 everywhere. Pooled: across
    # (16 * 11 + 16 * 0) / 32 = 5.5, inside (224 * 1 + 224 * 0) / 448 = 0.5.
    columns = np.arange(16) + 10 * (np.arange(16) // 8)
    assert blockiness(np.tile(columns, (16, 1)).astype(np.uint8)) == pytest.approx(11)
    assert np.isnan(blockiness(np.zeros((6, 6), np.uint8)))  # no block edge inside


def test_image_features_adds_blockiness_only_when_asked():
    pixels = np.random.default_rng(2).integers(0, 256, (32, 32), dtype=np.uint8)
    assert "blockiness" not in image_features(pixels, with_blockiness=False)
    assert image_features(pixels, with_blockiness=True)["sharpness"] == sharpness(pixels)


# Studies ------------------------------------------------------------------------------------


def _the_32px_study() -> CueStudy:
    """Issue 19's study, smaller: held-out scans chosen at creation, then 32 px synthetic images
    added on the study page. (The issue's 367 px and 40 images: benchmarks/resolution_cue.py.)"""
    built = CueStudy("tiny")
    built.add_real(12, speckle(160))
    assert built.refreshed().panel_size == 160  # what "Create a study" fixed, and kept, before
    built.add_synthetic(12, speckle(32))
    return built


@pytest.mark.django_db
def test_the_32px_study_is_shown_at_32px_and_refused_naming_the_resolution_cue():
    built = _the_32px_study()
    study = built.refreshed()

    # Before: the panel size stayed at 160 and each 32 px image was enlarged 5x; the rule
    # "Laplacian variance > 50" then told every panel's class (issue 19: 40 of 40).
    synthetic = study.images.filter(kind="synthetic")
    enlarged = [render_panel(image.panel_pixels(), 160) for image in synthetic]
    assert max(sharpness(pixels) for pixels in enlarged) < 50
    # Now: the panel size follows the smallest image, and rendering never enlarges.
    assert study.panel_size == 32
    Study.objects.filter(pk=study.pk).update(panel_size=160)
    study.refresh_from_db()
    with pytest.raises(PanelRenderError, match=r"Image #\d+ is 32 px natively .* 160 px"):
        render_study_panels(study)
    Study.objects.filter(pk=study.pk).update(panel_size=32)

    audit = LeakAudit.objects.create(study=study, publish_on_pass=True)
    tasks.audit_study(audit.pk)
    audit.refresh_from_db()

    assert audit.passed is False
    assert not Study.objects.get(pk=study.pk).is_published
    cues = audit.report["low_level_cues"]
    assert cues["sizing"] == "images from 32 px to 160 px natively, all shown at 32 px"
    assert cues["native_sides"] == {"real": [160, 160], "synthetic": [32, 32]}
    [refusal] = cues["rendering_cues"]
    assert refusal.startswith("Real images are 160 px natively and synthetic images 32 px, and")
    assert refusal in audit.report["problems"]
    native = next(entry for entry in cues["features"] if entry["name"] == "native_side")
    assert native["served"]["auc"] == 1.0
    assert "Panels: images from 32 px to 160 px natively, all shown at 32 px." in "\n".join(
        describe(audit)
    )


@pytest.mark.django_db
def test_a_generator_sharper_than_the_scans_at_equal_size_publishes_with_sharpness_named():
    built = CueStudy("sharp")
    real = built.add_real(12, speckle(64, blur=1.0))
    synthetic = built.add_synthetic(12, speckle(64))
    study = built.refreshed()
    assert study.panel_size == 64

    cues = cue_audit(study)

    assert cues["rendering_cues"] == []  # nothing of the study's own making: it may publish
    assert cues["auc"] > 0.9
    named = {entry["name"]: entry for entry in cues["cues"]}
    assert "sharpness" in named and cues["most_telling"] == cues["cues"][0]["name"]
    entry = named["sharpness"]
    assert entry["served"]["auc"] > 0.9 and entry["served"]["ci95"][0] > 0.5
    assert entry["synthetic_median"] > entry["real_median"]
    pair = entry["example"]
    by_id = {image.pk: image for image in real + synthetic}
    assert by_id[pair["real"]["image"]].kind == "real"
    assert by_id[pair["synthetic"]["image"]].kind == "synthetic"
    for side in ("real", "synthetic"):
        image = by_id[pair[side]["image"]]
        assert pair[side]["value"] == pytest.approx(sharpness(image.panel_pixels()), rel=1e-3)
    assert any(
        line.startswith("What gives it away: sharpness (variance of the Laplacian)")
        and f"real image #{pair['real']['image']}" in line
        for line in describe_cues(cues)
    )
    # The study's report carries the latest audit's cues, and its methods the panels' size.
    LeakAudit.objects.create(study=study, report={"low_level_cues": cues})
    report = compute_report([], study=study)
    assert report["low_level_cues"]["cues"][0] == cues["cues"][0]
    assert report["study"]["panels"] == "images 64 px natively, shown at 64 px"


@pytest.mark.django_db
def test_mixed_sizes_in_both_classes_are_shown_at_the_smallest_and_say_so():
    built = CueStudy("mixed")
    built.add_real(6, speckle(48))
    built.add_real(6, speckle(80))
    built.add_synthetic(6, speckle(48))
    built.add_synthetic(6, speckle(80))
    study = built.refreshed()

    cues = cue_audit(study)

    assert study.panel_size == 48
    assert cues["sizing"] == "images from 48 px to 80 px natively, all shown at 48 px"
    assert cues["rendering_cues"] == []  # each class is resampled alike
    assert cues["cues"] == []


@pytest.mark.django_db
def test_practice_and_catch_images_count_for_the_panel_size_too():
    built = CueStudy("practice")
    built.add_real(4, speckle(64))
    built.add_synthetic(4, speckle(64))
    small = built.add_synthetic(1, speckle(40))[0]
    built.study.images.remove(small)
    assert built.refreshed().panel_size == 64
    built.study.catch_images.add(small)
    assert built.refreshed().panel_size == 40
    built.study.catch_images.remove(small)
    assert built.refreshed().panel_size == 64


@pytest.mark.django_db
def test_a_generator_trained_here_at_the_panel_size_is_not_a_resolution_cue():
    # Its training images were the scans rendered to 48 px exactly as the real panels are.
    built = CueStudy("here", run_config={"resolution": 48})
    built.add_real(8, speckle(96))
    built.add_synthetic(8, lambda seed: render_panel(speckle(96)(seed), 48))
    study = built.refreshed()

    assert study.panel_size == 48
    assert cue_audit(study)["rendering_cues"] == []


@pytest.mark.django_db
def test_jpeg_scans_beside_lossless_synthetic_images_are_refused_when_the_blocks_show():
    built = CueStudy("jpeg")
    built.add_real(12, jpeg(speckle(64), quality=30), source_format="JPEG")
    built.add_synthetic(12, lambda seed: ndimage.uniform_filter(speckle(64)(seed), 2))

    cues = cue_audit(built.refreshed())

    assert cues["source_formats"] == {"real": {"JPEG": 12}, "synthetic": {"PNG": 12}}
    assert any(cue.startswith("Source formats differ") for cue in cues["rendering_cues"])
    blocks = next(entry for entry in cues["features"] if entry["name"] == "blockiness")
    assert blocks["served"]["auc"] > 0.9
