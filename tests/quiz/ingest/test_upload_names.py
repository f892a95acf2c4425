"""Uploads through the admin's dataset form: any file name is stored under a generated one, the
name it was sent under is kept as text for the report and the images, and an upload that fails
leaves no file behind.

The requests are multipart bodies written byte for byte, as a browser or curl sends them, so the
file names reach Django's own multipart parser unaltered (the test client's helpers would
refuse or rewrite some of them first).
"""

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from PIL import Image as PILImage

from quiz import jobs
from quiz.admin.datasets import DatasetAdmin
from quiz.models import Dataset, Image, IngestJob, JobStatus
from tests.admin_forms import dataset_form

pytestmark = pytest.mark.django_db

BOUNDARY = "----upload-names-boundary"
FORM = dataset_form("uploads")

# (the file name as sent, the name Django's multipart parser hands the form). The parser keeps
# only what follows the last slash or backslash, drops characters that cannot be printed and cuts
# names to 255 characters, keeping the extension; every name it passes on must be kept as is.
NAMES = [
    ("é" * 200 + ".jpg", "é" * 200 + ".jpg"),  # 404 bytes: over the file system's 255
    ("%%%", "%%%"),  # nothing left after get_valid_filename: once a blank 400
    (".. .png", ".. .png"),
    (".. ", ".. "),  # ".." after get_valid_filename: once a blank 400
    ("scans/left.png", "left.png"),
    ("scans\\right.png", "right.png"),
    ("nul\x00in the name.png", "nulin the name.png"),
    (".hidden.png", ".hidden.png"),
    ("超音波画像", "超音波画像"),  # all non-ASCII, no extension
    ("x" * 300 + ".PNG", "x" * 251 + ".PNG"),
    ('<img src=x onerror=alert(1)> & "q".png', '<img src=x onerror=alert(1)> & "q".png'),
]


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(20, 230, (96, 128), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]
    for name, data in files:
        # A browser escapes a double quote in the name as %22 (the HTML standard's encoding).
        quoted = name.replace('"', "%22")
        header = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; '
            f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(header.encode() + data + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def _upload(client, files: list[tuple[str, bytes]], url: str = "", **fields: str):
    return client.generic(
        "POST",
        url or reverse("admin:quiz_dataset_add"),
        _multipart({**FORM, **fields}, files),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def _media_files() -> list[Path]:
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


def _uploads_left() -> list[Path]:
    return sorted(Path(settings.MEDIA_ROOT, "uploads").rglob("*"))


def test_any_file_name_is_stored_under_a_generated_name_and_kept_as_text(
    admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    # The quote is sent as %22, as a browser sends it; Django does not decode it.
    kept = [name.replace('"', "%22") for _, name in NAMES]
    scans = [(sent, _png(seed)) for seed, (sent, _) in enumerate(NAMES)]
    not_an_image = ("%%%", b"not an image")
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(admin_client, [*scans, not_an_image])
    assert response.status_code == 302, response.content.decode()[:2000]
    job = IngestJob.objects.get()
    assert sent_tasks["quiz.tasks.ingest_upload"] == [job.pk]
    assert [upload["name"] for upload in job.uploads] == [*kept, "%%%"]
    stored = [upload["stored"] for upload in job.uploads]
    pattern = rf"{re.escape(job.upload_dir)}/\d{{4}}(\.[a-z0-9]{{1,8}})?"
    assert all(re.fullmatch(pattern, name) for name in stored), stored
    assert stored[0].endswith("0001.jpg") and stored[2].endswith("0003.png")
    contents = [Path(settings.MEDIA_ROOT, name).read_bytes() for name in stored]
    assert contents == [data for _, data in scans] + [not_an_image[1]]

    jobs.run_now(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.imported_count == len(NAMES)
    assert sorted(Image.objects.values_list("source_name", flat=True)) == sorted(kept)
    # The report names the rejected file by the name it was uploaded under.
    assert job.rejections == [{"file": "%%%", "reason": "not an image (unrecognised file format)"}]
    assert not _uploads_left()
    page = admin_client.get(reverse("admin:quiz_dataset_change", args=[job.dataset.pk]))
    assert page.status_code == 200
    assert "<strong>%%%</strong>: not an image" in page.content.decode()


def test_a_name_that_is_only_dots_never_reaches_the_form(
    admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    # Django's multipart parser drops a file part named "", "." or ".." (also when written as
    # HTML character references): no file system lets a file have such a name, so only a
    # hand-made request sends one. The other files of the upload go on.
    files = [("..", _png(1)), ("&#46;&#46;", _png(2)), ("ok.png", _png(3))]
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(admin_client, files)
    assert response.status_code == 302
    job = IngestJob.objects.get()
    assert [upload["name"] for upload in job.uploads] == ["ok.png"]
    assert len(_media_files()) == 1


def test_zip_members_of_any_name_are_read_by_name_or_named_as_left_out(
    admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("é" * 200 + ".png", _png(1))
        archive.writestr("%%%", _png(2))
        archive.writestr("left\\scan.png", _png(3))
        archive.writestr("超音波画像", _png(4))
        archive.writestr("..\\evil.png", _png(5))
        archive.writestr("/etc/evil.png", _png(6))
        archive.writestr(".hidden.png", _png(7))
        link = zipfile.ZipInfo("link.png")
        link.external_attr = (0o120777 << 16) | 0x20  # a symbolic link, as Info-ZIP stores one
        archive.writestr(link, "/etc/passwd")
    name = "é" * 120 + ".zip"
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(admin_client, [(name, buffer.getvalue())]).status_code == 302
    job = IngestJob.objects.get()
    jobs.run_now(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert sorted(Image.objects.values_list("source_name", flat=True)) == sorted(
        f"{name}/{member}" for member in ("é" * 200 + ".png", "%%%", "left\\scan.png", "超音波画像")
    )
    assert {entry["file"]: entry["reason"] for entry in job.skipped} == {
        f"{name}/..\\evil.png": (
            "unsafe name in the archive (a '..' part or an absolute path): not unpacked"
        ),
        f"{name}//etc/evil.png": (
            "unsafe name in the archive (a '..' part or an absolute path): not unpacked"
        ),
        f"{name}/link.png": "symbolic link in the archive: not followed",
    }
    assert not job.rejections


class _FullDisk(FileSystemStorage):
    """Local storage that runs out of space at the third file of an upload."""

    def _save(self, name: str, content) -> str:
        if name.endswith("0003.png"):
            raise OSError(28, "No space left on device")
        return super()._save(name, content)


def test_an_upload_that_cannot_be_stored_leaves_no_file_and_says_why(admin_client, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}._FullDisk"},
    }
    files = [("a.png", _png(1)), ("b.png", _png(2)), ("c.png", _png(3)), ("d.png", _png(4))]
    response = _upload(admin_client, files)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:quiz_dataset_add")
    page = admin_client.get(response["Location"]).content.decode()
    assert (
        "Nothing was saved: the uploaded file &#x27;c.png&#x27; could not be stored "
        "(OSError: [Errno 28] No space left on device)." in page
    )
    assert not Dataset.objects.exists() and not IngestJob.objects.exists()
    assert not _media_files() and not _uploads_left()


def test_an_error_after_the_files_are_stored_deletes_them_with_the_job(admin_client, monkeypatch):
    # The job row rolls back with the admin's transaction; its files go with it.
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(DatasetAdmin, "log_addition", broken)
    with pytest.raises(RuntimeError, match="database gone"):
        _upload(admin_client, [("a.png", _png(1)), ("b.png", _png(2))])
    assert not Dataset.objects.exists() and not IngestJob.objects.exists()
    assert not LogEntry.objects.exists()
    assert not _media_files() and not _uploads_left()


def test_a_rejected_form_stores_nothing(admin_client):
    response = _upload(admin_client, [("a.png", _png(1))], held_out_share="2")
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    assert not Dataset.objects.exists()
    assert not _media_files()


def test_too_many_files_get_a_400_page_that_says_so_and_store_nothing(admin_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = _upload(admin_client, [(f"{i}.png", _png(i)) for i in range(3)])
    assert response.status_code == 400
    page = response.content.decode()
    assert "The form sent more files at once than this site accepts." in page
    assert not Dataset.objects.exists()
    assert not _media_files()


def test_an_upload_to_an_existing_dataset_keeps_names_too(
    admin_client, sent_tasks, django_capture_on_commit_callbacks
):
    dataset = Dataset.objects.create(name="existing")
    url = reverse("admin:quiz_dataset_change", args=[dataset.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(admin_client, [("%%%", _png(1))], url=url, name="existing")
    assert response.status_code == 302
    (job,) = dataset.ingest_jobs.all()
    assert job.uploads == [{"stored": f"{job.upload_dir}/0001", "name": "%%%"}]


@pytest.mark.django_db(transaction=True)
def test_jobs_queued_before_the_names_were_kept_still_name_their_files():
    before, after = (
        [("quiz", "0012_oracle_free_feedback")],
        [("quiz", "0013_upload_original_names")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    dataset = old_apps.get_model("quiz", "Dataset").objects.create(name="queued")
    old_apps.get_model("quiz", "IngestJob").objects.create(
        dataset=dataset, token="t", upload_names=["uploads/t/a_scan.png", "uploads/t/b.zip"]
    )
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new_apps = executor.loader.project_state(after).apps
        job = new_apps.get_model("quiz", "IngestJob").objects.get()
        assert job.uploads == [
            {"stored": "uploads/t/a_scan.png", "name": "a_scan.png"},
            {"stored": "uploads/t/b.zip", "name": "b.zip"},
        ]
        MigrationExecutor(connection).migrate(before)
        job = old_apps.get_model("quiz", "IngestJob").objects.get()
        assert job.upload_names == ["uploads/t/a_scan.png", "uploads/t/b.zip"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
