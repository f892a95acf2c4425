"""The generator admin: staff create a generator trained elsewhere and upload its images, masks
and manifest; the import job runs and its report shows on the page. A run's generator is
read-only."""

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from quiz import tasks
from quiz.models import Dataset, Generator, GeneratorImport, JobStatus, TrainingRun

pytestmark = pytest.mark.django_db


def _png(seed: int, side: int = 48) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _form(name: str, **fields: object) -> dict[str, object]:
    return {
        "name": name,
        "description": "",
        "trained_on": "",
        "imports-TOTAL_FORMS": "0",
        "imports-INITIAL_FORMS": "0",
        **fields,
    }


def test_an_upload_creates_an_import_job_and_its_report_shows(
    admin_client, settings, django_capture_on_commit_callbacks, sent_tasks
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("out/0001.png", _png(1))
        archive.writestr("out/0002.png", _png(2))
        archive.writestr("out/readme.txt", "made with truncation 0.7")
    files = [SimpleUploadedFile("batch.zip", buffer.getvalue())]
    masks = [SimpleUploadedFile("0001.png", _png(9))]
    manifest = SimpleUploadedFile("trained.txt", b"f" * 64 + b"\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:quiz_generator_add"),
            _form("home-gan", upload=files, masks=masks, manifest=manifest),
        )
    assert response.status_code == 302
    job = GeneratorImport.objects.get()
    assert sent_tasks["quiz.tasks.import_synthetic"] == [job.pk]
    assert [u["name"] for u in job.uploads] == ["batch.zip"]
    assert [u["name"] for u in job.mask_uploads] == ["0001.png"]
    assert [u["name"] for u in job.manifest_upload] == ["trained.txt"]
    assert all(
        (settings.MEDIA_ROOT / u["stored"]).is_file() for u in job.all_uploads
    )  # stored under generated names until the job has read them

    tasks.import_synthetic(job.pk)  # what the worker does with the message

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    generator = Generator.objects.get(name="home-gan")
    assert generator.images.count() == 2 and generator.manifest_hashes == ["f" * 64]
    page = admin_client.get(reverse("admin:quiz_generator_change", args=[generator.pk]))
    html = page.content.decode()
    assert "Rejected: <strong>batch.zip/out/readme.txt</strong>: not an image" in html
    assert "Notes: <strong>batch.zip/out/0002.png</strong>: imported without a mask" in html
    assert "training manifest: 1 pixel hash(es)" in html


def test_masks_without_images_and_an_oversized_upload_are_refused(admin_client, settings):
    masks = [SimpleUploadedFile("0001.png", _png(9))]
    response = admin_client.post(reverse("admin:quiz_generator_add"), _form("g", masks=masks))
    assert response.status_code == 200
    assert "Masks pair with the images of the same upload" in response.content.decode()
    settings.MAX_UPLOAD_BYTES = 1000
    files = [SimpleUploadedFile("huge.zip", b"x" * 2000)]
    response = admin_client.post(reverse("admin:quiz_generator_add"), _form("g", upload=files))
    assert "largest file: huge.zip" in response.content.decode()
    assert not Generator.objects.exists() and not GeneratorImport.objects.exists()


def test_a_generator_without_a_manifest_says_its_held_out_status_is_unknown(admin_client):
    generator = Generator.objects.create(name="no-card")
    html = admin_client.get(reverse("admin:quiz_generator_changelist")).content.decode()
    assert "none (no training manifest): held-out status of real panels unknown" in html
    page = admin_client.get(reverse("admin:quiz_generator_change", args=[generator.pk]))
    assert 'name="manifest"' in page.content.decode()


def test_a_run_s_generator_is_shown_read_only_with_no_upload(admin_client):
    dataset = Dataset.objects.create(name="muscle")
    run = TrainingRun.objects.create(dataset=dataset, name="here")
    generator = Generator.of_run(run)
    html = admin_client.get(
        reverse("admin:quiz_generator_change", args=[generator.pk])
    ).content.decode()
    assert "trained here: run" in html and "the run&#x27;s: 0 real image(s)" in html
    assert 'name="upload"' not in html and 'name="name"' not in html
