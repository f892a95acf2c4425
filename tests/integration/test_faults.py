"""No job is ever lost: real workers killed, stopped, duplicated; a broker restarted or down.

Each test runs real `celery worker` and `celery beat` processes with short leases (FAST_JOBS_ENV).
The Redis tests use a private redis-server of their own, so that restarting it touches nothing
else; the embedded-broker tests use kombu's filesystem transport, as `make run` does.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from ganengine import families
from ganengine.checkpoint import load_file
from quiz import jobs
from quiz.models import JobStatus, TrainingRun
from tests.integration.conftest import (
    FAST_JOBS_ENV,
    bands_dataset,
    embedded_broker_options,
    kill_group,
    refreshed,
    wait_for,
    wait_until_ready,
)
from webapp.celery import app as celery_app

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


class RedisServer:
    """A throwaway redis-server that keeps nothing on disk, as the machines' own Redis."""

    def __init__(self, folder) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)

    def restart(self) -> None:
        """Stopped and started again: every message it held is gone."""
        self.stop()
        self.start()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "embedded"])
def broker(request, point_celery_at, tmp_path) -> dict[str, str]:
    """Points this process at the broker under test; the environment that points a worker at it."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        point_celery_at(server.url)
        return {**FAST_JOBS_ENV, "REDIS_URL": server.url}
    var = tmp_path / "var"
    point_celery_at("filesystem://", embedded_broker_options(var))
    return {**FAST_JOBS_ENV, "REDIS_URL": "", "VAR_DIR": str(var)}


def _run(steps: int = 120, name: str = "tiny", **config_fields) -> TrainingRun:
    dataset = bands_dataset(name=f"bands for {name}")
    # A checkpoint every 10 steps: a killed attempt leaves a recent one to resume.
    config = families.get("unconditional").preset(
        "tiny", steps=steps, **{"checkpoint_every": 10, **config_fields}
    )
    return TrainingRun.objects.create(
        dataset=dataset, name=name, config=config.to_dict(), total_steps=steps
    )


def _assert_one_continuous_run(run: TrainingRun, attempts: int) -> None:
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert (run.step, run.attempts) == (run.total_steps, attempts)
    steps = run.metrics["step"]
    # Strictly increasing: a resumed attempt continued from its checkpoint's step, it did not
    # start again from 0, and no two attempts reported the same steps.
    assert steps == sorted(set(steps)) and steps[-1] == run.total_steps
    assert run.checkpoint.endswith(f"-attempt{attempts}.pt") and not run.lease_owner


def _checkpointed(run: TrainingRun, at_least: int = 20):
    return lambda: refreshed(run).checkpoint != "" and run.step >= at_least


def _checkpoint_step(run: TrainingRun) -> int:
    """The step the run's checkpoint holds: where a resumed attempt starts again."""
    return load_file(default_storage.path(run.checkpoint))["step"]


def _freeze_past_a_checkpoint(run: TrainingRun, worker: subprocess.Popen) -> tuple[int, int]:
    """Stops the worker (SIGSTOP) at a moment when the row's last progress report is past its
    checkpoint; returns the reported step and the checkpoint's step.

    Frozen, the worker writes nothing more (nor prunes the checkpoint being read), so what the
    row says is what a kill leaves.
    """
    # Polled from the start and often: on a quiet machine the tiny run trains its steps in a few
    # seconds, and a slower first look (wait_for's half second) could find it finished.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        os.killpg(worker.pid, signal.SIGSTOP)
        run.refresh_from_db()
        if run.is_finished:
            pytest.fail(f"the run finished (step {run.step}) before it could be stopped")
        if run.checkpoint:
            reported, checkpointed = run.step, _checkpoint_step(run)
            if reported > checkpointed:
                return reported, checkpointed
        os.killpg(worker.pid, signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail("no progress report past a checkpoint was seen")


def test_a_worker_killed_mid_training_is_replaced_and_the_run_resumes_its_checkpoint(
    broker, start_worker, tmp_path
):
    # Progress every 5 steps, a checkpoint every 30: most of the time the last progress report
    # is past the last checkpoint, the case where the resumed attempt must drop points.
    run = _run(steps=360, progress_every=5, checkpoint_every=30)
    # A lease that a slow first step on a busy machine does not outlast: one attempt per worker.
    broker = {**broker, "JOB_LEASE_SECONDS": "15"}
    first = start_worker(broker, name="first")
    start_worker(broker, beat=True)
    jobs.submit(run)
    reported, checkpointed = _freeze_past_a_checkpoint(run, first)
    kill_group(first)  # kill -9 of the worker and its pool process
    killed_at = time.monotonic()

    second = start_worker(broker, name="second")
    wait_for("a second attempt", lambda: refreshed(run).attempts == 2, second)
    print(f"recovered {time.monotonic() - killed_at:.1f} s after the kill (lease 15 s)")
    wait_for("the run to finish", lambda: refreshed(run).is_finished, second)
    steps = run.metrics["step"]
    around = [step for step in steps if checkpointed - 10 <= step <= reported + 10]
    print(f"killed at reported step {reported}, checkpoint {checkpointed}; steps there: {around}")
    _assert_one_continuous_run(run, attempts=2)
    assert run.lost_leases == 1
    # The killed attempt's scratch folder (its half-written files) went when the next worker
    # started; the finished attempt removed its own. (The run's evaluation may have one now.)
    left = [path.name for path in (tmp_path / "scratch").iterdir()]
    assert not [name for name in left if name.startswith(f"run-{run.pk}-")], left


def test_a_worker_stopped_mid_training_hands_the_run_back_and_the_next_start_resumes_it(
    broker, start_worker
):
    run = _run()
    worker = start_worker(broker, name="gpu")
    jobs.submit(run)
    wait_for("a checkpoint", _checkpointed(run), worker)
    worker.terminate()  # SIGTERM: what Ctrl-C of `make run` and a deploy send
    assert worker.wait(timeout=60) == 0
    run.refresh_from_db()
    assert (run.status, run.attempts, run.lost_leases) == (JobStatus.QUEUED, 1, 0)
    # The checkpoint written on the way out, at the step where the attempt stopped.
    assert run.checkpoint.endswith("-attempt1.pt") and 20 <= run.step < run.total_steps

    restarted = start_worker(broker, name="gpu")
    wait_for("the run to finish", lambda: refreshed(run).is_finished, restarted)
    _assert_one_continuous_run(run, attempts=2)


def test_the_same_run_delivered_twice_to_two_workers_trains_once(broker, start_worker):
    run = _run(steps=60)
    workers = [start_worker(broker, name=name) for name in ("one", "two")]
    for worker in workers:
        wait_until_ready(worker)
    for _ in range(2):
        celery_app.send_task("quiz.tasks.train_run", args=(run.pk,))
    wait_for("the run to finish", lambda: refreshed(run).is_finished, workers[0])
    _assert_one_continuous_run(run, attempts=1)
    # The other delivery reached a worker and found the live lease.
    wait_for(
        "the duplicate delivery",
        lambda: any("nothing to do" in worker.log_path.read_text() for worker in workers),
        workers[0],
        timeout=60,
    )


def _empty_the_broker(request, broker_env: dict[str, str]) -> None:
    """What a broker restarted without its data is left with: none of the messages it held.

    Redis: the private redis-server stopped and started again on its port. The embedded broker:
    its queue folder's files gone, as with a fresh VAR_DIR (only the message files are removed,
    so the workers polling the folder see an empty queue, not a missing folder).
    """
    if broker_env["REDIS_URL"]:
        request.getfixturevalue("redis_server").restart()
        return
    queue = Path(broker_env["VAR_DIR"]) / "broker" / "queue"
    for message in queue.glob("*.msg"):
        message.unlink(missing_ok=True)


def test_runs_queued_when_the_broker_restarts_empty_are_announced_again_at_the_next_reconcile(
    request, broker, start_worker
):
    # JOB_RESEND_SECONDS at its default: re-sending by age takes 300 s, longer than this test
    # waits, so the runs can only come back through the reconciler noticing the empty broker.
    # A long lease: a slow first step on a busy machine must not lapse it (no worker dies here).
    env = {**broker, "JOB_RESEND_SECONDS": "300", "JOB_LEASE_SECONDS": "60"}
    reconcile_every = float(env["JOB_RECONCILE_SECONDS"])
    runs = [_run(steps=steps, name=f"run {index}") for index, steps in enumerate((60, 20, 20))]
    gpu = start_worker(env, name="gpu", queues="gpu")
    reconciler = start_worker(env, name="default", queues="default")  # as the Procfile has it
    start_worker(env, beat=True)
    for run in runs:
        jobs.submit(run)
    wait_for("the first run to start", lambda: refreshed(runs[0]).step > 0, gpu)
    os.killpg(gpu.pid, signal.SIGSTOP)  # no run is claimed while the broker is emptied
    queued = runs[1:]
    assert [refreshed(run).attempts for run in queued] == [0, 0]
    assert all(refreshed(run).sent_at for run in queued)  # their messages were in the broker
    log_before = reconciler.log_path.read_text()
    _empty_the_broker(request, broker)  # the queued runs' messages are gone with it
    emptied_at = timezone.now()
    os.killpg(gpu.pid, signal.SIGCONT)

    # Announced again by a reconcile: within 60 reconcile intervals, before the age rule could.
    for run in queued:
        wait_for(
            f"{run} to be announced again",
            lambda run=run: (refreshed(run).sent_at or emptied_at) > emptied_at,
            reconciler,
            timeout=60 * reconcile_every,
        )
    for run in runs:
        wait_for(f"{run} to finish", lambda run=run: refreshed(run).is_finished, gpu, 240)
    for run in queued:
        print(
            f"{run}: announced again {(run.sent_at - emptied_at).total_seconds():.1f} s and "
            f"started {(run.started_at - emptied_at).total_seconds():.1f} s after the broker "
            "was emptied"
        )
    for run in runs:
        assert run.status == JobStatus.SUCCEEDED, run.error
        assert run.step == run.total_steps
        # Trained once: every duplicate announcement found the run claimed or finished.
        assert run.attempts == 1
    # The reconciler found the broker without its marker and announced the queued runs again.
    since = reconciler.log_path.read_text()[len(log_before) :]
    resent = [line for line in since.splitlines() if "announcing every queued job" in line]
    assert resent and all(f"#{run.pk}" in resent[0] for run in queued), since[-3000:]


def test_a_run_added_while_the_broker_is_down_is_saved_says_so_and_runs_when_it_is_back(
    admin_client, redis_server, point_celery_at, start_worker
):
    dataset = bands_dataset()
    redis_server.stop()
    point_celery_at(redis_server.url)
    response = admin_client.post(
        reverse("admin:quiz_trainingrun_add"),
        {"dataset": dataset.pk, "name": "while down", "preset": "unconditional:tiny", "steps": 20},
        follow=True,
    )
    assert response.status_code == 200
    assert "The job queue cannot be reached" in response.content.decode()
    run = TrainingRun.objects.get(name="while down")
    assert (run.status, run.sent_at) == (JobStatus.QUEUED, None)

    redis_server.start()
    env = {**FAST_JOBS_ENV, "REDIS_URL": redis_server.url}
    worker = start_worker(env, name="gpu")
    start_worker(env, beat=True)  # its reconciler sends the unsent run
    wait_for("the run to finish", lambda: refreshed(run).is_finished, worker)
    assert run.status == JobStatus.SUCCEEDED, run.error


def test_ctrl_c_of_serve_mid_training_hands_the_run_back_and_the_next_serve_resumes_it(
    settings, tmp_path, point_celery_at
):
    """`make run` as a user runs it: every process of the site, stopped with Ctrl-C."""
    from tests.integration.conftest import _test_database_url

    var = tmp_path / "var"
    env = {
        **os.environ,
        **FAST_JOBS_ENV,
        "REDIS_URL": "",
        "VAR_DIR": str(var),
        "DATABASE_URL": _test_database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SCRATCH_DIR": str(tmp_path / "scratch"),
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def serve(log_name: str) -> subprocess.Popen:
        log = open(tmp_path / log_name, "w")  # noqa: SIM115 the process holds it
        return subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    run = _run()
    first = serve("serve-1.log")
    try:
        # Announced while serve starts: the message waits in the embedded broker's folder.
        point_celery_at("filesystem://", embedded_broker_options(var))
        jobs.submit(run)
        wait_for("a checkpoint", _checkpointed(run), first)
        first.send_signal(signal.SIGINT)  # Ctrl-C
        assert first.wait(timeout=90) == 0
    finally:
        if first.poll() is None:
            first.kill()
    run.refresh_from_db()
    assert (run.status, run.attempts) == (JobStatus.QUEUED, 1)
    assert run.checkpoint.endswith("-attempt1.pt")

    second = serve("serve-2.log")
    try:
        wait_for("the run to finish", lambda: refreshed(run).is_finished, second)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=90)
    _assert_one_continuous_run(run, attempts=2)
