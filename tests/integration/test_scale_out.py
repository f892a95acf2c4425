"""Scale-out: two GPU workers on two "hosts" sharing Redis, PostgreSQL and an S3 bucket.

Each worker has its own node name, scratch folder and an empty MEDIA_ROOT it never uses: all it
reads and writes goes through the database and the bucket, as on separate machines. Every run is
announced twice and trained exactly once. PostgreSQL only: `make test`'s PostgreSQL pass runs it.
"""

import pytest
from django.db import connection

from ganengine import families
from quiz import jobs
from quiz.models import GenerationJob, JobStatus, TrainingRun
from tests.integration.conftest import (
    FAST_JOBS_ENV,
    REDIS_TEST_URL,
    bands_dataset,
    empty_test_redis,
    refreshed,
    wait_for,
)
from webapp.celery import app as celery_app

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_services(s3_bucket, point_celery_at):
    if connection.vendor != "postgresql":
        pytest.skip("the scale-out test runs in the PostgreSQL pass (DATABASE_URL=postgres://...)")
    empty_test_redis()
    point_celery_at(REDIS_TEST_URL)
    return {**FAST_JOBS_ENV, **s3_bucket.env, "REDIS_URL": REDIS_TEST_URL}


def test_two_gpu_workers_on_two_hosts_train_each_run_exactly_once(
    shared_services, start_worker, s3_bucket, tmp_path
):
    workers = [
        start_worker(
            {
                **shared_services,
                "MEDIA_ROOT": str(tmp_path / f"unused-media-{host}"),
                "SCRATCH_DIR": str(tmp_path / f"scratch-{host}"),
            },
            name=f"gpu@{host}",
            queues="gpu",
        )
        for host in ("host-a", "host-b")
    ]
    config = families.get("unconditional").preset("tiny", steps=30, checkpoint_every=10)
    runs = [
        TrainingRun.objects.create(
            dataset=bands_dataset(name=f"bands {index}"),
            name=f"run {index}",
            config=config.to_dict(),
            total_steps=config.steps,
        )
        for index in range(4)
    ]
    for run in runs:
        for _ in range(2):  # every run announced twice
            celery_app.send_task("quiz.tasks.train_run", args=(run.pk,))

    for run in runs:
        wait_for(f"{run} to finish", lambda run=run: refreshed(run).is_finished, workers[0], 400)
        assert (run.status, run.attempts, run.step) == (JobStatus.SUCCEEDED, 1, 30), run.error
        assert run.checkpoint in s3_bucket.keys(f"runs/{run.pk}/")
    logs = [worker.log_path.read_text() for worker in workers]
    assert all("quiz.tasks.train_run" in log and "succeeded" in log for log in logs)
    for host in ("host-a", "host-b"):
        assert not (tmp_path / f"unused-media-{host}").exists()

    # A generation job on either host reads its checkpoint from the bucket.
    job = jobs.create(GenerationJob, training_run=runs[0], count=3)
    wait_for("generation", lambda: refreshed(job).is_finished, workers[0])
    assert (job.status, job.produced) == (JobStatus.SUCCEEDED, 3), job.error
    stored = s3_bucket.keys("images/")
    assert {image.file.name for image in runs[0].images.all()} <= stored
