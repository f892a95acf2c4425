"""The web side on a private S3 bucket of a real server (OpenStack Swift with s3api, on loopback).

Every test here stores through Django's default storage pointed at a fresh bucket (`s3_bucket`)
and checks the objects in the bucket with boto3, beside what the pages and views return.
"""

import io
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from quiz import tasks
from quiz.imaging import decode_png, encode_png
from quiz.ingest.pipeline import IngestedImage, ingest_files
from quiz.models import Image, ImageKind, IngestJob, JobStatus, Round, StudyPanel
from quiz.studies.panels import render_study_panels
from tests.admin_forms import dataset_form
from tests.s3server import create_bucket, empty_and_delete_bucket, url_status
from webapp.celery import app as celery_app

pytestmark = pytest.mark.django_db


def _scan(seed: int) -> bytes:
    """A grayscale PNG with an imaging area on a black screen, as a scanner exports it."""
    rng = np.random.default_rng(seed)
    frame = np.zeros((96, 128), dtype=np.uint8)
    frame[8:88, 16:112] = rng.integers(40, 255, size=(80, 96), dtype=np.uint8)
    return encode_png(frame)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _ingested_pixels(name: str, data: bytes) -> np.ndarray:
    (item,) = ingest_files([(name, data)])
    assert isinstance(item, IngestedImage)
    return item.pixels


def _local_files() -> list:
    return [path for path in settings.MEDIA_ROOT.rglob("*") if path.is_file()]


def test_an_upload_goes_through_the_bucket_into_canonical_images_in_the_bucket(
    admin_client, s3_bucket, django_capture_on_commit_callbacks, monkeypatch
):
    uploads_seen: list[set[str]] = []

    def run_now(name: str, args, **options) -> None:
        # The admin has stored the upload; the ingest task reads it back from the bucket.
        assert name == "quiz.tasks.ingest_upload"
        uploads_seen.append(s3_bucket.keys("uploads/"))
        tasks.ingest_upload(*args)

    monkeypatch.setattr(celery_app, "send_task", run_now)
    # By the source names ingest records: the stored upload's name, a zip member's path.
    scans = {"first scan.png": _scan(1), "more.zip/second.png": _scan(2)}
    files = [
        SimpleUploadedFile("first scan.png", scans["first scan.png"]),
        SimpleUploadedFile("more.zip", _zip({"second.png": scans["more.zip/second.png"]})),
        SimpleUploadedFile("notes.txt", b"not an image"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:quiz_dataset_add"),
            dataset_form("in the bucket", upload=files),
        )
    assert response.status_code == 302
    job = IngestJob.objects.get()
    assert uploads_seen == [{upload["stored"] for upload in job.uploads}]
    assert [upload["name"] for upload in job.uploads] == ["first scan.png", "more.zip", "notes.txt"]

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.imported_count == 2
    assert [r["file"] for r in job.rejections] == ["notes.txt"]
    images = {image.source_name: image for image in Image.objects.filter(kind=ImageKind.REAL)}
    assert set(images) == set(scans)
    # The bucket holds the images (with the source frames their crops come from) and nothing of
    # the upload; nothing was written locally.
    stored = [(image.file, image.source_file, image.field_mask) for image in images.values()]
    assert s3_bucket.keys() == {file.name for files in stored for file in files if file}
    assert all(image.file.name.startswith("images/") for image in images.values())
    assert not _local_files()
    for name, image in images.items():
        expected = _ingested_pixels(name, scans[name])
        np.testing.assert_array_equal(decode_png(s3_bucket.read(image.file.name)), expected)
        np.testing.assert_array_equal(image.pixels(), expected)


def _consent(client, study) -> None:
    client.post(reverse("quiz:start", args=[study.slug]), {"consent": "on", "expertise": "none"})


def _leaks_storage(text: str, s3_bucket) -> list[str]:
    """The parts of `text` that would point at the bucket or a signed object URL."""
    endpoint = s3_bucket.server.endpoint_url
    patterns = [re.escape(endpoint), re.escape(s3_bucket.name), r"(?i)x-amz-", r"(?i)signature"]
    return [pattern for pattern in patterns if re.search(pattern, text)]


def test_panels_are_served_from_the_bucket_alike_for_real_and_synthetic(
    client, s3_bucket, make_study
):
    study = make_study()
    panels = {panel.image_id: panel.file.name for panel in study.panels.all()}
    # Each image's panel and its viewer rendition (quiz.studies.panels), both in the bucket.
    full = {panel.image_id: panel.full_file.name for panel in study.panels.all()}
    assert s3_bucket.keys("panels/") == set(panels.values()) | set(full.values())

    _consent(client, study)
    page = client.get(reverse("quiz:round", args=[study.slug]))
    assert page.status_code == 200
    assert _leaks_storage(page.content.decode(), s3_bucket) == []
    round_ = Round.objects.latest("served_at")

    headers_by_kind: dict[str, set] = {}
    for panel in round_.panels.select_related("image"):
        for view, stored in (("quiz:panel", panels), ("quiz:panel_full", full)):
            response = client.get(reverse(view, args=[study.slug, panel.token]))
            assert response.status_code == 200
            assert response.content == s3_bucket.read(stored[panel.image_id])
            headers = (view, *sorted(response.headers.items()))
            assert _leaks_storage(repr(headers), s3_bucket) == []
            headers_by_kind.setdefault(panel.image.kind, set()).add(headers)
    # Content-Length included: every stored panel, and every viewer rendition, has one length.
    assert headers_by_kind[ImageKind.REAL] == headers_by_kind[ImageKind.SYNTHETIC]
    assert len(headers_by_kind[ImageKind.REAL]) == 2
    assert not _local_files()


def test_rendering_a_study_again_replaces_its_panels_in_the_bucket(s3_bucket, make_study):
    study = make_study(real=3, synthetic=3)
    before = s3_bucket.keys("panels/")
    study.panel_size = 32
    render_study_panels(study)
    rows = list(StudyPanel.objects.filter(study=study))
    after = {panel.file.name for panel in rows} | {panel.full_file.name for panel in rows}
    assert s3_bucket.keys("panels/") == after
    assert not before & after
    # The panels at the new size, the viewer renditions still at the images' native 48 px.
    shapes = {decode_png(s3_bucket.read(panel.file.name)).shape for panel in rows}
    assert shapes == {(32, 32)}
    full = {decode_png(s3_bucket.read(panel.full_file.name)).shape for panel in rows}
    assert full == {(48, 48)}


def test_the_bucket_refuses_anonymous_reads_and_the_storage_only_signs_urls(s3_bucket):
    data = encode_png(np.full((40, 40), 7, dtype=np.uint8))
    name = default_storage.save("images/ab/probe.png", ContentFile(data))

    for url in (s3_bucket.s3_url(name), s3_bucket.swift_url(name)):
        status, body = url_status(url)
        assert status >= 400, url
        assert data not in body
    assert url_status(s3_bucket.swift_url(name))[0] == 401

    # The same object through the storage's own (signed, expiring) URL: the key is right.
    signed = default_storage.url(name)
    assert "X-Amz-Signature=" in signed and "X-Amz-Expires=" in signed
    assert url_status(signed) == (200, data)


def test_the_privacy_check_sees_a_public_bucket(s3_server):
    # The control for the test above: once a bucket is public-read, the same anonymous GET
    # is answered with the object.
    public = create_bucket(s3_server)
    try:
        public.client.put_object(Bucket=public.name, Key="open.png", Body=b"anyone")
        public.client.put_bucket_acl(Bucket=public.name, ACL="public-read")
        assert url_status(public.swift_url("open.png")) == (200, b"anyone")
    finally:
        empty_and_delete_bucket(public.client, public.name)


def test_staff_views_stream_images_masks_and_samples_from_the_bucket(
    admin_client, s3_bucket, make_study
):
    study = make_study(real=2, synthetic=2)
    image = study.images.filter(kind=ImageKind.SYNTHETIC).first()
    response = admin_client.get(reverse("quiz:staff_image", args=[image.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == s3_bucket.read(image.file.name)

    labels = np.zeros((48, 48), dtype=np.uint8)
    labels[10:20] = 1
    labels[30:40] = 2
    image.mask.save("mask.png", ContentFile(encode_png(labels)))
    assert image.mask.name in s3_bucket.keys("masks/")
    mask = decode_png(admin_client.get(reverse("quiz:staff_image_mask", args=[image.pk])).content)
    # Three labels, spread over the grey range, in the places the stored mask has them.
    assert len(np.unique(mask)) == 3
    assert len({mask[0, 0], mask[15, 0], mask[35, 0]}) == 3

    run = image.training_run
    grid = encode_png(np.full((16, 32), 99, dtype=np.uint8))
    run.samples = default_storage.save(f"{run.work_dir}/samples.png", ContentFile(grid))
    run.save(update_fields=["samples"])
    samples = admin_client.get(reverse("quiz:run_samples", args=[run.pk]))
    assert samples.status_code == 200
    assert b"".join(samples.streaming_content) == s3_bucket.read(run.samples) == grid
    assert not _local_files()


_SUBPROCESS_SCRIPT = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
print(type(default_storage._wrapped).__name__ if default_storage.exists("from-test.txt") else "")
print(default_storage.open("from-test.txt").read().decode())
print(default_storage.save("runs/1/samples.png", ContentFile(b"from the subprocess")))
"""


def test_the_environment_points_another_process_at_the_bucket(s3_bucket, tmp_path):
    # What a Celery worker started with s3_bucket.env sees: webapp.settings builds the storage.
    location = "tenant-a"
    s3_bucket.client.put_object(
        Bucket=s3_bucket.name, Key=f"{location}/from-test.txt", Body=b"written by the test"
    )
    env = {
        **os.environ,
        **s3_bucket.env,
        "AWS_LOCATION": location,
        "VAR_DIR": str(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", _SUBPROCESS_SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    backend, read, saved = result.stdout.strip().splitlines()
    assert (backend, read, saved) == ("S3Storage", "written by the test", "runs/1/samples.png")
    assert s3_bucket.read(f"{location}/runs/1/samples.png") == b"from the subprocess"
    assert not (tmp_path / "media").exists()


def test_an_upload_whose_job_is_not_saved_leaves_nothing_in_the_bucket(
    admin_client, s3_bucket, monkeypatch
):
    # The files reach the bucket inside the admin's transaction; the transaction rolls back
    # after them, and they are deleted from the bucket with it.
    from quiz.admin.datasets import DatasetAdmin

    stored_before_the_error: list[set[str]] = []

    def broken(*args, **kwargs):
        stored_before_the_error.append(s3_bucket.keys("uploads/"))
        raise RuntimeError("database gone")

    monkeypatch.setattr(DatasetAdmin, "log_addition", broken)
    files = [SimpleUploadedFile("é" * 200 + ".png", _scan(1)), SimpleUploadedFile("%%%", b"x")]
    with pytest.raises(RuntimeError, match="database gone"):
        admin_client.post(
            reverse("admin:quiz_dataset_add"),
            dataset_form("rolled back", upload=files),
        )
    # Both were stored, under generated names, before the error.
    (keys,) = stored_before_the_error
    assert sorted(key.rsplit("/", 1)[1] for key in keys) == ["0001.png", "0002"]
    assert not IngestJob.objects.exists()
    assert s3_bucket.keys() == set()
    assert not _local_files()
