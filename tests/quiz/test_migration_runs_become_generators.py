"""Migration 0015: each run that made synthetic images becomes their generator."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("quiz", "0014_generators")]
AFTER = [("quiz", "0016_synthetic_images_have_a_generator")]


@pytest.mark.django_db(transaction=True)
def test_a_run_with_images_becomes_their_generator_and_a_run_without_none():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Dataset = apps.get_model("quiz", "Dataset")
    TrainingRun = apps.get_model("quiz", "TrainingRun")
    Image = apps.get_model("quiz", "Image")
    Generator = apps.get_model("quiz", "Generator")
    dataset = Dataset.objects.create(name="muscle")
    made = TrainingRun.objects.create(dataset=dataset, name="demo")
    twin = TrainingRun.objects.create(dataset=dataset, name="demo")
    idle = TrainingRun.objects.create(dataset=dataset, name="never generated")
    for run in (made, made, twin):
        Image.objects.create(kind="synthetic", training_run=run, width=1, height=1, sha256="x")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Generator = apps.get_model("quiz", "Generator")
    Image = apps.get_model("quiz", "Image")
    generators = {g.training_run_id: g for g in Generator.objects.all()}
    assert set(generators) == {made.pk, twin.pk}  # not the run that made no image
    assert generators[made.pk].name == "demo"
    assert generators[twin.pk].name == f"demo (run #{twin.pk})"  # names stay unique
    assert generators[made.pk].trained_on_id == dataset.pk
    assert {(image.training_run_id, image.generator_id) for image in Image.objects.all()} == {
        (made.pk, generators[made.pk].pk),
        (twin.pk, generators[twin.pk].pk),
    }
    assert idle.pk not in generators

    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
