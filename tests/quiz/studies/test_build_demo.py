"""`make demo` keeps the rules of any study: its real panels are held out from its GAN."""

import io
import json

import pytest
from django.core.management import call_command

from quiz.imaging import decode_png
from quiz.ingest.pipeline import ingest_into_dataset
from quiz.ingest.sources import iter_folder
from quiz.management.commands.build_demo import (
    COLOUR_DATASET_NAME,
    COLOUR_STUDY_SLUG,
    DATASET_NAME,
    SHIPPED,
)
from quiz.models import Dataset, ImageKind, ImageProfile, Split, Study, TrainingRun

# The demo runs its leak audit against a server thread, which must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.full_audit
def test_the_demo_study_shows_only_held_out_real_images_its_gan_never_saw(muscle_images):
    out = io.StringIO()
    call_command(
        "build_demo",
        train=True,
        preset="tiny",
        steps=2,
        images=40,
        synthetic=10,
        stdout=out,
        stderr=out,
    )
    study = Study.objects.get(slug="demo")
    run = TrainingRun.objects.get()
    real = study.images.filter(kind=ImageKind.REAL)
    assert study.is_published and study.panels.count() == study.images.count() == 20
    assert set(real.values_list("split", flat=True)) == {Split.HELD_OUT}
    assert run.trained_images.count() == 30
    assert not real.filter(trained_by=run).exists()


@pytest.mark.full_audit
def test_the_demo_serves_the_shipped_generator_and_never_its_training_images(muscle_images):
    card = json.loads((SHIPPED / "card.json").read_text())
    # The crops it trained on, and their source frames (a crop made differently since).
    train_entries = card["data"]["split"]["train"]
    trained = {entry[key] for entry in train_entries for key in ("sha256", "source_sha256")}
    # A dataset that already holds three of the generator's training images among others.
    train_files = {entry["file"] for entry in card["data"]["split"]["train"][:3]}
    held_out_files = {entry["file"] for entry in card["data"]["split"]["held_out"][:12]}
    dataset = Dataset.objects.create(name=DATASET_NAME)
    files = (f for f in iter_folder(muscle_images) if f[0] in train_files | held_out_files)
    assert ingest_into_dataset(dataset, files).imported == 15

    out = io.StringIO()
    call_command("build_demo", synthetic=10, stdout=out, stderr=out)
    study, run = Study.objects.get(slug="demo"), TrainingRun.objects.get()
    real = study.images.filter(kind=ImageKind.REAL)
    synthetic = study.images.filter(kind=ImageKind.SYNTHETIC)
    assert study.is_published, out.getvalue()
    assert run.trained_images.count() == 3
    for image in run.trained_images.all():
        assert {image.sha256, image.source_sha256} & trained
    assert real.count() == 10
    assert not {d for pair in real.values_list("sha256", "source_sha256") for d in pair} & trained
    # Panels at the generator's own size: nothing is scaled up.
    side = card["generator"]["config"]["resolution"]
    assert study.panel_size == side == 128
    assert set(synthetic.values_list("width", "height")) == {(side, side)}
    assert run.evaluation["c2st_auc"] == card["metrics"]["c2st"]["auc"]
    assert run.status == "succeeded" and run.step == card["generator"]["step"]


@pytest.mark.full_audit
def test_the_colour_demo_trains_an_rgb_gan_on_generic_colour_tiles_and_publishes_its_study():
    out = io.StringIO()
    call_command("build_demo", colour=True, steps=2, images=24, synthetic=6, stdout=out, stderr=out)
    study = Study.objects.get(slug=COLOUR_STUDY_SLUG)
    dataset = Dataset.objects.get(name=COLOUR_DATASET_NAME)
    run = TrainingRun.objects.get()
    assert dataset.profile == ImageProfile.GENERIC
    assert study.is_published, out.getvalue()
    assert run.config["channels"] == 3 and run.config["model"] == "dcgan"
    real = study.images.filter(kind=ImageKind.REAL)
    synthetic = study.images.filter(kind=ImageKind.SYNTHETIC)
    assert synthetic.count() == 6 and real.count() == 6
    assert set(real.values_list("split", flat=True)) == {Split.HELD_OUT}
    assert not real.filter(trained_by=run).exists()
    # Colour all through: the tiles, the generated images and the panels the quiz serves.
    for image in study.images.all():
        assert image.channels == 3 and image.pixels().ndim == 3
    for panel in study.panels.all():
        assert decode_png(panel.file.read()).shape[2] == 3
