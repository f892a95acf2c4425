"""`make run` without REDIS_URL: the embedded filesystem broker carries jobs to a real worker."""

import numpy as np
import pytest
from django.core.files.base import ContentFile

import ganengine
from quiz import jobs
from quiz.imaging import encode_png, pixel_sha256
from quiz.models import Dataset, Image, ImageKind, JobStatus, TrainingRun
from tests.integration.conftest import refreshed, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_training_job_travels_through_the_filesystem_broker(
    point_celery_at, start_worker, tmp_path
):
    broker_dir = tmp_path / "var" / "broker"
    point_celery_at(
        "filesystem://",
        {
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "processed_folder": str(broker_dir / "processed"),
            "control_folder": str(broker_dir / "control"),
            "store_processed": False,
        },
    )
    (broker_dir / "queue").mkdir(parents=True)
    worker = start_worker({"REDIS_URL": "", "VAR_DIR": str(tmp_path / "var")})

    dataset = Dataset.objects.create(name="bands")
    rng = np.random.default_rng(0)
    for _ in range(8):
        pixels = rng.integers(0, 80, size=(40, 40), dtype=np.uint8)
        pixels[rng.integers(5, 30) :][:4] = 230  # a bright band at a random depth
        Image.objects.create(
            kind=ImageKind.REAL,
            dataset=dataset,
            width=40,
            height=40,
            sha256=pixel_sha256(pixels),
            file=ContentFile(encode_png(pixels), name="image.png"),
        )
    dataset.apply_split()
    config = ganengine.TrainConfig.preset("tiny", steps=6)
    run = TrainingRun.objects.create(
        dataset=dataset, name="tiny", config=config.to_dict(), total_steps=6
    )
    jobs.submit(run)

    wait_for("training", lambda: refreshed(run).is_finished, worker)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.step, run.attempts) == (6, 1)
    assert run.checkpoint.endswith(".pt")
