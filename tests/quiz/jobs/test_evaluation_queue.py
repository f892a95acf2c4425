"""An evaluation never delays a generation: it has a queue and a worker of its own.

The workers are real Celery processes started with the queues that `manage.py serve` (and so the
Procfile) gives them, on the real Redis and on the embedded filesystem broker of `make run`.
"""

import os
import signal
import time

import pytest
from django.conf import settings

from ganengine import families
from quiz import jobs
from quiz.management.commands.serve import commands
from quiz.models import EvaluationJob, GenerationJob, JobStatus, TrainingRun
from tests.integration.conftest import (
    REDIS_TEST_URL,
    bands_dataset,
    embedded_broker_options,
    empty_test_redis,
    refreshed,
    wait_for,
    wait_until_ready,
)

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def _served_queues() -> dict[str, set[str]]:
    """Worker process name -> the queues that `serve` (the Procfile) has it consume."""
    served = {}
    for name, command in commands("127.0.0.1", 8000).items():
        if "worker" in command:
            served[name] = set(command[command.index("-Q") + 1].split(","))
    return served


def _queue_of(task: str) -> str:
    return settings.CELERY_TASK_ROUTES.get(task, {}).get(
        "queue", settings.CELERY_TASK_DEFAULT_QUEUE
    )


def _worker_of(task: str) -> str:
    queue = _queue_of(task)
    return next(name for name, queues in _served_queues().items() if queue in queues)


def test_every_routed_queue_has_a_worker_and_evaluation_shares_none_with_generation() -> None:
    consumed = set().union(*_served_queues().values())
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed
    evaluation, generation = "quiz.tasks.evaluate_run", "quiz.tasks.generate_images"
    assert _worker_of(evaluation) != _worker_of(generation)
    assert _served_queues()[_worker_of(evaluation)].isdisjoint(
        _served_queues()[_worker_of(generation)]
    )


def _redis_broker(point_celery_at, tmp_path) -> dict[str, str]:
    empty_test_redis()
    point_celery_at(REDIS_TEST_URL)
    return {"REDIS_URL": REDIS_TEST_URL}


def _embedded_broker(point_celery_at, tmp_path) -> dict[str, str]:
    point_celery_at("filesystem://", embedded_broker_options(tmp_path / "var"))
    return {"REDIS_URL": "", "VAR_DIR": str(tmp_path / "var")}


@pytest.mark.parametrize("broker", [_redis_broker, _embedded_broker], ids=["redis", "embedded"])
def test_a_generation_submitted_during_an_evaluation_finishes_before_it(
    broker, point_celery_at, start_worker, tmp_path
):
    env = broker(point_celery_at, tmp_path)
    served = _served_queues()
    workers = {
        name: start_worker(env, name=f"{name}-{os.getpid()}", queues=",".join(sorted(queues)))
        for name, queues in served.items()
        if name != "worker-default"  # ingest and the reconciler: no part in this
    }
    for worker in workers.values():
        wait_until_ready(worker)
    evaluator = workers[_worker_of("quiz.tasks.evaluate_run")]
    generator = workers[_worker_of("quiz.tasks.generate_images")]

    # A finished run queues its own evaluation (quiz.jobs.gan.evaluate_when_trained).
    dataset = bands_dataset(count=40)
    config = families.get("unconditional").preset("tiny", steps=4)
    run = TrainingRun.objects.create(
        dataset=dataset, name="tiny", config=config.to_dict(), total_steps=config.steps
    )
    jobs.run_now(run)
    assert run.status == JobStatus.SUCCEEDED, run.error
    evaluation = EvaluationJob.objects.get(training_run=run)
    deadline = time.monotonic() + 240
    while refreshed(evaluation).status == JobStatus.QUEUED and time.monotonic() < deadline:
        time.sleep(0.02)
    assert evaluation.status == JobStatus.RUNNING, "the evaluation worker did not take it"
    # Held mid-evaluation (worker and pool frozen, as a long evaluation would be), so that the
    # order below does not depend on how long either job takes.
    os.killpg(evaluator.pid, signal.SIGSTOP)
    try:
        generation = jobs.create(GenerationJob, training_run=run, count=4)
        wait_for("the generation", lambda: refreshed(generation).is_finished, generator)
        assert (generation.status, generation.produced) == (JobStatus.SUCCEEDED, 4)
        assert refreshed(evaluation).status == JobStatus.RUNNING
    finally:
        os.killpg(evaluator.pid, signal.SIGCONT)
    wait_for("the evaluation", lambda: refreshed(evaluation).is_finished, evaluator)
    assert evaluation.status == JobStatus.SUCCEEDED, evaluation.error
    assert evaluation.started_at < generation.finished_at < evaluation.finished_at
    assert "c2st_auc" in refreshed(run).evaluation
