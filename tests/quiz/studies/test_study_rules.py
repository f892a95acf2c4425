"""Publish rules about a study's generators: real panels held out, no near-copies of training."""

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from quiz.imaging import encode_png, pixel_sha256
from quiz.models import (
    Dataset,
    Image,
    ImageKind,
    LeakAudit,
    Review,
    Split,
    Study,
    TrainingRun,
)
from quiz.studies.rules import near_copy_pairs, study_problems, study_warnings

pytestmark = pytest.mark.django_db

SIZE = 48


def _image(pixels: np.ndarray, kind: str, **fields) -> Image:
    return Image.objects.create(
        kind=kind,
        width=pixels.shape[1],
        height=pixels.shape[0],
        sha256=pixel_sha256(pixels),
        file=ContentFile(encode_png(pixels), name="x.png"),
        **fields,
    )


def _pixels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)


def _setup(real: int = 8, synthetic: int = 8) -> tuple[Dataset, TrainingRun, Study]:
    """A dataset split 6 train / `real` held out, a run trained on the train part, and a study
    of the held-out images and the run's synthetic images."""
    dataset = Dataset.objects.create(name="muscle")
    train = [
        _image(_pixels(seed), ImageKind.REAL, dataset=dataset, split=Split.TRAIN,
               source_name=f"scan_{seed:03}.png")
        for seed in range(6)
    ]  # fmt: skip
    held_out = [
        _image(_pixels(100 + seed), ImageKind.REAL, dataset=dataset, split=Split.HELD_OUT)
        for seed in range(real)
    ]
    run = TrainingRun.objects.create(dataset=dataset, name="cpu-demo demo")
    run.trained_images.set(train)
    fakes = [
        _image(_pixels(200 + seed), ImageKind.SYNTHETIC, training_run=run)
        for seed in range(synthetic)
    ]
    study = Study.objects.create(name="Muscle", slug="muscle", panel_size=SIZE)
    study.images.set(held_out + fakes)
    return dataset, run, study


def test_a_study_of_held_out_real_images_passes(make_study):
    _, _, study = _setup()
    assert study_problems(study) == []
    assert study_warnings(study) == []
    assert study_problems(make_study(slug="fixture")) == []


def test_the_held_out_rule_refuses_a_training_image_and_names_it():
    dataset, run, study = _setup()
    trained = run.trained_images.get(source_name="scan_003.png")
    study.images.add(trained)
    assert (
        f"Real image #{trained.pk} (scan_003.png) was in the training set of run “cpu-demo "
        "demo”, whose images are in this study: use held-out images as real panels."
    ) in study_problems(study)


def test_a_training_image_is_refused_as_a_practice_image_and_as_a_copy_in_another_dataset():
    dataset, run, study = _setup()
    trained = run.trained_images.get(source_name="scan_001.png")
    study.practice_images.add(trained)
    other = Dataset.objects.create(name="re-upload")
    copy = _image(_pixels(1), ImageKind.REAL, dataset=other, split=Split.HELD_OUT)
    study.images.add(copy)
    problems = study_problems(study)
    assert any(p.startswith(f"Real image #{trained.pk} (scan_001.png) was in") for p in problems)
    assert any(
        p.startswith(f"Real image #{copy.pk} (no file name) has the pixels of training image "
                     f"#{trained.pk} of run “cpu-demo demo”")
        for p in problems
    )  # fmt: skip


def test_a_training_scan_cropped_another_way_is_refused_by_its_source_frame():
    dataset, run, study = _setup()
    trained = run.trained_images.get(source_name="scan_003.png")
    trained.source_sha256 = "a" * 64
    trained.save()
    recropped = _image(
        _pixels(999),
        ImageKind.REAL,
        dataset=Dataset.objects.create(name="again"),
        split=Split.HELD_OUT,
        source_name="scan_003-again.png",
        source_sha256="a" * 64,
    )
    study.images.add(recropped)
    assert (
        f"Real image #{recropped.pk} (scan_003-again.png) is the scan of training image "
        f"#{trained.pk}, cropped another way, of run “cpu-demo demo”, whose images are in this "
        "study: use held-out images as real panels."
    ) in study_problems(study)


def test_an_excluded_or_flagged_real_image_blocks_publishing_until_accepted():
    _, _, study = _setup()
    excluded, flagged = study.images.filter(kind=ImageKind.REAL).order_by("pk")[:2]
    excluded.review = Review.EXCLUDED
    excluded.save()
    flagged.flags = [{"code": "colour-flow", "reason": "saturated colour in 9% of the field"}]
    flagged.save()
    problems = study_problems(study)
    assert (
        f"Real image #{excluded.pk} (no file name) was excluded by staff: accept it on its "
        "dataset's crop review, or remove it from the study."
    ) in problems
    assert (
        f"Real image #{flagged.pk} (no file name) is flagged (saturated colour in 9% of the "
        "field): accept it on its dataset's crop review, or remove it from the study."
    ) in problems
    for image in (excluded, flagged):
        image.review = Review.ACCEPTED
        image.save()
    assert study_problems(study) == []


def test_a_run_without_a_record_of_its_training_set_blocks_publishing():
    _, run, study = _setup()
    run.trained_images.clear()
    assert any(
        p.startswith("Run “cpu-demo demo” has no record of the images it trained on")
        for p in study_problems(study)
    )


def test_a_generator_trained_elsewhere_is_checked_against_its_recorded_pixel_hashes():
    # The shipped demo generator: no training image on this site, only its card's hashes.
    dataset, run, study = _setup()
    run.trained_images.clear()
    outside = [pixel_sha256(_pixels(seed)) for seed in range(300, 306)]
    run.trained_pixel_hashes = outside
    run.save()
    assert study_problems(study) == []
    seen = _image(
        _pixels(303), ImageKind.REAL, dataset=dataset, split=Split.HELD_OUT, source_name="copy.png"
    )
    study.images.add(seen)
    assert (
        f"Real image #{seen.pk} (copy.png) has the pixels of an image in the recorded training "
        "set of run “cpu-demo demo”, whose images are in this study: use held-out images as "
        "real panels."
    ) in study_problems(study)


def test_a_real_image_in_the_train_part_that_no_study_run_saw_is_only_a_warning():
    dataset, _, study = _setup()
    unseen = _image(_pixels(50), ImageKind.REAL, dataset=dataset, split=Split.TRAIN)
    study.images.add(unseen)
    assert study_problems(study) == []
    assert study_warnings(study) == [
        f"1 real image(s) of this study (#{unseen.pk}) are in their dataset's train part: runs "
        "trained on it later will see them, and those runs' images then cannot join this "
        "study. Held-out images avoid that."
    ]


def test_the_memorisation_guard_flags_copies_of_training_images_and_not_distinct_ones():
    _, run, study = _setup()
    copied = run.trained_images.get(source_name="scan_002.png")
    noisy_source = run.trained_images.get(source_name="scan_004.png")
    noise = np.random.default_rng(9).integers(-4, 5, (SIZE, SIZE))
    exact = _image(_pixels(2), ImageKind.SYNTHETIC, training_run=run)
    noisy = _image(
        np.clip(_pixels(4) + noise, 0, 255).astype(np.uint8), ImageKind.SYNTHETIC, training_run=run
    )
    study.images.add(exact, noisy)

    pairs = near_copy_pairs(study)
    assert [(p["synthetic_id"], p["training_id"]) for p in pairs] == [
        (exact.pk, copied.pk),
        (noisy.pk, noisy_source.pk),
    ]
    assert pairs[0]["distance"] == 0 and pairs[0]["ratio"] == 0
    assert 0 < pairs[1]["ratio"] < 0.1 and 0 < pairs[1]["relative_distance"] < 0.1
    problems = study_problems(study, near_copies=pairs)
    assert (
        f"Synthetic image #{exact.pk} is a near-copy of training image #{copied.pk} (ratio 0.00, "
        "relative distance 0.00): remove it from the study."
    ) in problems
    assert len(problems) == 2


def test_the_near_copies_page_shows_each_pair_side_by_side_to_staff_only(client, admin_client):
    _, run, study = _setup()
    copied = run.trained_images.get(source_name="scan_002.png")
    exact = _image(_pixels(2), ImageKind.SYNTHETIC, training_run=run)
    study.images.add(exact)
    url = reverse("quiz:study_near_copies", args=[study.pk])
    assert "No audit has checked this study" in admin_client.get(url).content.decode()

    LeakAudit.objects.create(study=study, report={"near_copies": near_copy_pairs(study)})
    page = admin_client.get(url).content.decode()
    assert reverse("quiz:staff_image", args=[exact.pk]) in page
    assert reverse("quiz:staff_image", args=[copied.pk]) in page
    assert "scan_002.png" in page and "flagged 1 synthetic image as near-copies" in page

    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
