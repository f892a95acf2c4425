import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from quiz import jobs
from quiz.imaging import decode_png
from quiz.ingest import pipeline, sources
from quiz.ingest.pipeline import IngestedImage, ingest_files, ingest_into_dataset
from quiz.ingest.report import IngestReport
from quiz.ingest.sources import Rejection, iter_folder
from quiz.ingest.uploads import store_uploads
from quiz.models import Dataset, Image, IngestJob, JobStatus
from tests.dicoms import ultrasound_dicom

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
TIMTRACK = SHARED_DATA / "timtrack-cc0"


@pytest.fixture
def timtrack() -> Path:
    if not TIMTRACK.is_dir():
        pytest.skip(f"real test images not found at {TIMTRACK} (../shared/data is absent)")
    return TIMTRACK


def _speckle(height: int = 120, width: int = 160, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 230, (height, width), dtype=np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _decompression_bomb_png(side: int = 8000) -> bytes:
    """A small PNG whose header declares side x side pixels of zeros."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _results(files) -> dict[str, IngestedImage | Rejection]:
    return {item.source_name: item for item in ingest_files(files)}


def test_real_muscle_pngs_import(muscle_images):
    files = sorted(muscle_images.glob("*.png"))[::60]
    results = list(ingest_files((f.name, f.read_bytes()) for f in files))
    assert [r.source_name for r in results] == [f.name for f in files]
    for result in results:
        assert isinstance(result, IngestedImage), result
        assert result.pixels.dtype == np.uint8 and result.pixels.ndim == 2
        left, top, right, bottom = result.field.box
        assert result.pixels.shape == (bottom - top, right - left)
        assert (
            result.source.shape
            == np.asarray(PILImage.open(muscle_images / result.source_name)).shape
        )


def test_each_bad_file_is_rejected_with_a_reason_and_the_rest_import():
    good = _png(_speckle())
    truncated = _png(_speckle(seed=2))[:300]
    webp = io.BytesIO()
    PILImage.fromarray(_speckle(seed=3)).save(webp, format="WEBP")
    results = _results(
        [
            ("scan.png", good),
            ("notes.txt", b"these are my notes, not an image\n"),
            ("broken.png", truncated),
            ("empty.zip", _zip({})),
            ("tiny.png", _png(_speckle(20, 20))),
            ("scan.webp", webp.getvalue()),
            ("nothing.png", b""),
            ("bomb.png", _decompression_bomb_png()),
            ("also-good.png", _png(_speckle(seed=4))),
        ]
    )
    assert isinstance(results["scan.png"], IngestedImage)
    assert isinstance(results["also-good.png"], IngestedImage)
    reasons = {name: r.reason for name, r in results.items() if isinstance(r, Rejection)}
    assert reasons["notes.txt"].startswith("not an image")
    assert "truncated" in reasons["broken.png"]
    assert reasons["empty.zip"] == "empty archive, no images inside"
    assert reasons["tiny.png"].startswith("too small (20x20 pixels")
    assert reasons["scan.webp"].startswith("unsupported format WEBP")
    assert reasons["nothing.png"] == "empty file"
    assert reasons["bomb.png"].startswith("decompression bomb")


def test_a_zip_is_unpacked_with_member_names_and_junk_skipped():
    archive = _zip(
        {
            "inner/path.png": _png(_speckle()),
            "inner/deeper/other.png": _png(_speckle(seed=1)),
            "__MACOSX/inner/._path.png": b"resource fork",
            ".DS_Store": b"finder",
            "inner/readme.txt": b"hello",
        }
    )
    results = _results([("archive.zip", archive)])
    assert sorted(results) == [
        "archive.zip/inner/deeper/other.png",
        "archive.zip/inner/path.png",
        "archive.zip/inner/readme.txt",
    ]
    assert isinstance(results["archive.zip/inner/path.png"], IngestedImage)
    assert isinstance(results["archive.zip/inner/readme.txt"], Rejection)


def test_a_zip_inside_a_zip_is_unpacked_once():
    inner = _zip({"scan.png": _png(_speckle())})
    outer = _zip({"inner.zip": inner, "deep.zip": _zip({"again.zip": inner})})
    results = _results([("outer.zip", outer)])
    assert isinstance(results["outer.zip/inner.zip/scan.png"], IngestedImage)
    assert "nested too deep" in results["outer.zip/deep.zip/again.zip"].reason


def test_a_zip_bomb_member_is_rejected_and_its_neighbours_import():
    archive = _zip({"bomb.png": bytes(50 * 1024 * 1024), "scan.png": _png(_speckle())})
    assert len(archive) < 1024 * 1024
    results = _results([("bomb.zip", archive)])
    assert results["bomb.zip/bomb.png"].reason.startswith("zip bomb")
    assert isinstance(results["bomb.zip/scan.png"], IngestedImage)


def test_an_archive_that_unpacks_too_large_is_rejected_whole(monkeypatch):
    monkeypatch.setattr(sources, "MAX_ARCHIVE_BYTES", 1024 * 1024)
    archive = _zip({f"scan{i}.png": _png(_speckle(300, 300, seed=i)) for i in range(20)})
    [result] = ingest_files([("big.zip", archive)])
    assert result.source_name == "big.zip"
    assert result.reason.startswith("archive too large when unpacked")


def test_an_archive_with_too_many_members_is_rejected_whole(monkeypatch):
    monkeypatch.setattr(sources, "MAX_ARCHIVE_MEMBERS", 3)
    archive = _zip({f"scan{i}.png": _png(_speckle(seed=i)) for i in range(4)})
    [result] = ingest_files([("many.zip", archive)])
    assert result.reason == "too many files in the archive (4; at most 3)"


def test_an_oversized_file_is_rejected(monkeypatch):
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 1000)
    [result] = ingest_files([("huge.png", _png(_speckle()))])
    assert result.reason.startswith("file too large")


def test_a_corrupt_zip_is_rejected():
    [result] = ingest_files([("cut.zip", _zip({"scan.png": _png(_speckle())})[:200])])
    assert result.reason.startswith("corrupt ZIP archive")


def test_a_dicom_made_from_a_real_image_ingests_as_its_png_does(muscle_images):
    pixels = np.asarray(PILImage.open(muscle_images / "dlt_apo_img_00121.png"))
    [from_dicom] = ingest_files([("scan.dcm", ultrasound_dicom(pixels))])
    [from_png] = ingest_files([("scan.png", _png(pixels))])
    assert isinstance(from_dicom, IngestedImage), from_dicom
    assert from_dicom.field.box == from_png.field.box
    assert np.array_equal(from_dicom.pixels, from_png.pixels)


def test_an_rgb_jpeg_with_a_colour_overlay_becomes_grayscale():
    rgb = np.repeat(_speckle()[..., None], 3, axis=2)
    rgb[5:10, 5:60] = (255, 255, 0)  # a yellow caliper mark
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    results = list(ingest_files([("screen.jpg", buffer.getvalue())]))
    [result] = [item for item in results if isinstance(item, IngestedImage)]
    assert result.pixels.ndim == 2
    assert result.source.ndim == 3  # the source frame, for the crop review, keeps the colour


def test_iter_folder_feeds_files_recursively_and_skips_dotfiles(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "scan.png").write_bytes(_png(_speckle()))
    (tmp_path / "top.png").write_bytes(_png(_speckle(seed=1)))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.png").write_bytes(_png(_speckle(seed=2)))
    (tmp_path / ".DS_Store").write_bytes(b"x")
    results = list(ingest_files(iter_folder(tmp_path)))
    assert [r.source_name for r in results] == ["a/b/scan.png", "top.png"]


@pytest.mark.django_db
def test_ingest_into_dataset_stores_canonical_pngs_and_skips_duplicates():
    dataset = Dataset.objects.create(name="muscle")
    files = [("a.png", _png(_speckle(seed=1))), ("b.png", _png(_speckle(seed=2)))]
    report = ingest_into_dataset(dataset, files + [("notes.txt", b"hi")])
    assert (report.imported, report.duplicates) == (2, 0)
    assert report.rejections == [
        {"file": "notes.txt", "reason": "not an image (unrecognised file format)"}
    ]
    image = Image.objects.get(source_name="a.png")
    assert (image.kind, image.width, image.height, image.crop_box) == (
        "real",
        160,
        120,
        [0, 0, 160, 120],
    )
    with image.file.open("rb") as handle:
        assert np.array_equal(decode_png(handle.read()), _speckle(seed=1))
    # Stored under a random name: the upload's name never reaches the storage path.
    assert Path(image.file.name).name != "a.png"
    assert re.fullmatch(r"images/[0-9a-f]{4}/[0-9a-f]{32}\.png", image.file.name)

    again = ingest_into_dataset(dataset, files)
    assert (again.imported, again.duplicates) == (0, 2)
    assert dataset.images.count() == 2


@pytest.mark.django_db
def test_ingest_into_dataset_stops_at_the_limit():
    dataset = Dataset.objects.create(name="muscle")
    files = [(f"{i}.png", _png(_speckle(seed=i))) for i in range(5)]
    assert ingest_into_dataset(dataset, files, limit=2).imported == 2
    assert dataset.images.count() == 2


def test_the_report_reads_as_sentences():
    report = IngestReport(
        imported=12,
        duplicates=1,
        rejections=[
            {"file": "notes.txt", "reason": "not an image (unrecognised file format)"},
            {"file": "a.zip", "reason": "empty archive, no images inside"},
        ],
    )
    assert str(report).splitlines() == [
        "Imported 12 images (1 duplicate skipped); rejected 2 files:",
        "  notes.txt: not an image (unrecognised file format)",
        "  a.zip: empty archive, no images inside",
    ]
    assert str(IngestReport(imported=1)) == "Imported 1 image."


def _upload(job: IngestJob, files: dict[str, bytes]) -> None:
    store_uploads(
        job.upload_dir, [ContentFile(data, name=name) for name, data in files.items()], job.uploads
    )
    job.save()


@pytest.mark.django_db
def test_an_ingest_job_imports_stored_uploads_and_deletes_them():
    job = IngestJob.objects.create(dataset=Dataset.objects.create(name="muscle"))
    archive = _zip({"x/one.png": _png(_speckle(seed=1)), "x/two.png": _png(_speckle(seed=2))})
    _upload(job, {"scans.zip": archive, "three.png": _png(_speckle(seed=3)), "notes.txt": b"n"})
    jobs.run_now(job)
    assert job.status == JobStatus.SUCCEEDED
    assert (job.imported_count, job.duplicate_count, job.attempts) == (3, 0, 1)
    assert job.rejections == [
        {"file": "notes.txt", "reason": "not an image (unrecognised file format)"}
    ]
    assert sorted(job.dataset.images.values_list("source_name", flat=True)) == [
        "scans.zip/x/one.png",
        "scans.zip/x/two.png",
        "three.png",
    ]
    assert not (Path(settings.MEDIA_ROOT) / job.upload_dir).exists()


@pytest.mark.django_db
def test_an_ingest_job_fails_when_every_file_is_rejected():
    job = IngestJob.objects.create(dataset=Dataset.objects.create(name="muscle"))
    _upload(job, {"notes.txt": b"n", "empty.zip": _zip({})})
    jobs.run_now(job)
    assert job.status == JobStatus.FAILED
    assert job.error == "Nothing could be imported: 2 files rejected."
    assert len(job.rejections) == 2


@pytest.mark.django_db
def test_an_ingest_job_with_only_duplicates_succeeds():
    dataset = Dataset.objects.create(name="muscle")
    ingest_into_dataset(dataset, [("a.png", _png(_speckle()))])
    job = IngestJob.objects.create(dataset=dataset)
    _upload(job, {"a.png": _png(_speckle())})
    jobs.run_now(job)
    assert (job.status, job.imported_count, job.duplicate_count) == ("succeeded", 0, 1)


@pytest.mark.django_db
def test_an_ingest_job_records_an_unexpected_error_and_keeps_the_uploads(monkeypatch):
    job = IngestJob.objects.create(dataset=Dataset.objects.create(name="muscle"))
    _upload(job, {"a.png": _png(_speckle())})

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "ingest_into_dataset", broken)
    jobs.run_now(job)
    assert (job.status, job.error) == ("failed", "RuntimeError: disk full")
    assert default_storage.exists(job.uploads[0]["stored"])
