"""The staff loop on real parts: admin upload → ingest → train → generate → study.

The real Redis is the broker and a real Celery worker process does the work.
"""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from quiz.models import (
    GenerationJob,
    Generator,
    Image,
    ImageKind,
    IngestJob,
    JobStatus,
    LeakAudit,
    Split,
    Study,
    TrainingRun,
)
from tests.integration.conftest import REDIS_TEST_URL, empty_test_redis, refreshed, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(point_celery_at, start_worker):
    empty_test_redis()
    point_celery_at(REDIS_TEST_URL)
    return start_worker({"REDIS_URL": REDIS_TEST_URL})


def test_upload_train_generate_and_build_a_study(
    admin_client, worker, muscle_images, tmp_path, settings
):
    uploads = sorted(muscle_images.glob("dlt_apo_*.png"))[:16]
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    files = [SimpleUploadedFile(path.name, path.read_bytes()) for path in [*uploads, bad]]
    response = admin_client.post(
        reverse("admin:quiz_dataset_add"),
        {
            "name": "Calf muscle",
            "profile": "ultrasound",
            "description": "",
            "held_out_share": "0.5",
            "split_seed": "0",
            "frames_per_file": "8",
            "upload": files,
            **_inline_management(),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    job = IngestJob.objects.get()
    wait_for("ingest", lambda: refreshed(job).is_finished, worker)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.imported_count == len(uploads)
    assert [r["file"] for r in job.rejections] == ["notes.txt"]
    dataset = job.dataset
    assert dataset.images.filter(kind=ImageKind.REAL).count() == len(uploads)

    response = admin_client.post(
        reverse("admin:quiz_trainingrun_add"),
        {
            "dataset": dataset.pk,
            "name": "tiny run",
            "preset": "unconditional:tiny",
            "steps": 30,
            "seed": 1,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = TrainingRun.objects.get()
    wait_for("training", lambda: refreshed(run).is_finished, worker)
    run.refresh_from_db()
    assert run.status == JobStatus.SUCCEEDED, run.error
    assert run.step == 30 and run.checkpoint
    assert run.metrics["step"][-1] == 30
    assert (Path(settings.MEDIA_ROOT) / run.checkpoint).exists()

    response = admin_client.post(
        reverse("admin:quiz_trainingrun_changelist"),
        {"action": "generate", "_selected_action": [run.pk], "count": 12, "apply": "Generate"},
    )
    assert response.status_code == 302
    generation = GenerationJob.objects.get()
    wait_for("generation", lambda: refreshed(generation).is_finished, worker)
    generation.refresh_from_db()
    assert generation.status == JobStatus.SUCCEEDED, generation.error
    synthetic = Image.objects.filter(kind=ImageKind.SYNTHETIC, training_run=run)
    assert synthetic.count() == 12
    assert sorted(synthetic.values_list("seed", flat=True)) == list(range(12))

    assert set(run.trained_images.all()) == set(dataset.images.filter(split=Split.TRAIN))
    held_out = dataset.images.filter(split=Split.HELD_OUT)
    assert held_out.count() == len(uploads) // 2
    # The study builder: every held-out image (8) and the run's 12, previewed, then created.
    form = {
        "name": "Calf muscle study",
        "real": dataset.pk,
        "generators": [Generator.of_run(run).pk],
        "layout": "grid",
        "seed": "0",
    }
    preview = admin_client.post(reverse("admin:quiz_study_build"), {**form, "preview": "1"})
    assert preview.context["plan"].problems == [], preview.context["plan"].lines()
    fingerprint = preview.context["form"]["fingerprint"].value()
    response = admin_client.post(
        reverse("admin:quiz_study_build"), {**form, "fingerprint": fingerprint, "create": "1"}
    )
    assert response.status_code == 302
    study = Study.objects.get()
    assert set(study.images.all()) == {*held_out, *synthetic}
    assert study.panel_size == run.config["resolution"]

    admin_client.post(
        reverse("admin:quiz_study_changelist"),
        {"action": "publish", "_selected_action": [study.pk]},
    )
    # Publishing is the leak audit's job on the worker: it takes the quiz over HTTP first.
    audit = LeakAudit.objects.get(study=study)
    wait_for("leak audit", lambda: refreshed(audit).is_finished, worker, timeout=600)
    audit.refresh_from_db()
    assert audit.passed, (audit.error, audit.report.get("problems"), audit.report.get("auc"))
    study.refresh_from_db()
    assert study.is_published
    # The upload's temporary files are gone once ingested.
    assert not (Path(settings.MEDIA_ROOT) / job.upload_dir).exists() or not any(
        (Path(settings.MEDIA_ROOT) / job.upload_dir).iterdir()
    )


def _inline_management() -> dict[str, str]:
    return {
        "ingest_jobs-TOTAL_FORMS": "0",
        "ingest_jobs-INITIAL_FORMS": "0",
        "ingest_jobs-MIN_NUM_FORMS": "0",
        "ingest_jobs-MAX_NUM_FORMS": "1000",
    }
