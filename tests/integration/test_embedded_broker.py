"""`make run` without REDIS_URL: the embedded filesystem broker carries jobs to a real worker."""

import pytest

from ganengine import families
from quiz import jobs
from quiz.models import JobStatus, TrainingRun
from tests.integration.conftest import (
    bands_dataset,
    embedded_broker_options,
    refreshed,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_training_job_travels_through_the_filesystem_broker(
    point_celery_at, start_worker, tmp_path
):
    point_celery_at("filesystem://", embedded_broker_options(tmp_path / "var"))
    worker = start_worker({"REDIS_URL": "", "VAR_DIR": str(tmp_path / "var")})

    dataset = bands_dataset()
    config = families.get("unconditional").preset("tiny", steps=6)
    run = TrainingRun.objects.create(
        dataset=dataset, name="tiny", config=config.to_dict(), total_steps=6
    )
    jobs.submit(run)

    wait_for("training", lambda: refreshed(run).is_finished, worker)
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.step, run.attempts) == (6, 1)
    assert run.checkpoint.endswith(".pt")
