import io
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, generate_uid

from quiz import ingest, jobs
from quiz.imaging import decode_png
from quiz.ingest import (
    IngestedImage,
    Rejection,
    crop_to_field_of_view,
    ingest_files,
    ingest_into_dataset,
    iter_folder,
)
from quiz.models import Dataset, Image, IngestJob, JobStatus

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
TIMTRACK = SHARED_DATA / "timtrack-cc0"
# The B-mode rectangle of every timtrack dataset_2 frame, measured by eye on the pixels.
TIMTRACK_FIELD_OF_VIEW = (111, 60, 689, 521)


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


def _dicom(pixels: np.ndarray, *, syntax=ExplicitVRLittleEndian, frames: int = 1) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"  # Ultrasound Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = pixels.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    if syntax.is_compressed:
        ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8 not really JPEG-LS \xff\xd9"])
    else:
        ds.PixelData = pixels.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
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
        left, top, right, bottom = result.crop_box
        assert result.pixels.shape == (bottom - top, right - left)


def test_each_bad_file_is_rejected_with_a_reason_and_the_rest_import():
    good = _png(_speckle())
    truncated = _png(_speckle(seed=2))[:300]
    gif = io.BytesIO()
    PILImage.fromarray(_speckle(seed=3)).save(gif, format="GIF")
    results = _results(
        [
            ("scan.png", good),
            ("notes.txt", b"these are my notes, not an image\n"),
            ("broken.png", truncated),
            ("empty.zip", _zip({})),
            ("tiny.png", _png(_speckle(20, 20))),
            ("anim.gif", gif.getvalue()),
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
    assert reasons["anim.gif"].startswith("unsupported format GIF")
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
    monkeypatch.setattr(ingest, "MAX_ARCHIVE_BYTES", 1024 * 1024)
    archive = _zip({f"scan{i}.png": _png(_speckle(300, 300, seed=i)) for i in range(20)})
    [result] = ingest_files([("big.zip", archive)])
    assert result.source_name == "big.zip"
    assert result.reason.startswith("archive too large when unpacked")


def test_an_archive_with_too_many_members_is_rejected_whole(monkeypatch):
    monkeypatch.setattr(ingest, "MAX_ARCHIVE_MEMBERS", 3)
    archive = _zip({f"scan{i}.png": _png(_speckle(seed=i)) for i in range(4)})
    [result] = ingest_files([("many.zip", archive)])
    assert result.reason == "too many files in the archive (4; at most 3)"


def test_an_oversized_file_is_rejected(monkeypatch):
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 1000)
    [result] = ingest_files([("huge.png", _png(_speckle()))])
    assert result.reason.startswith("file too large")


def test_a_corrupt_zip_is_rejected():
    [result] = ingest_files([("cut.zip", _zip({"scan.png": _png(_speckle())})[:200])])
    assert result.reason.startswith("corrupt ZIP archive")


def test_a_dicom_made_from_a_real_image_imports_with_its_pixels(muscle_images):
    pixels = np.asarray(PILImage.open(muscle_images / "dlt_apo_img_00121.png"))
    [result] = ingest_files([("scan.dcm", _dicom(pixels))])
    assert isinstance(result, IngestedImage), result
    assert np.array_equal(result.pixels, crop_to_field_of_view(pixels)[0])


def test_a_16_bit_dicom_is_rescaled_and_a_cine_loop_gives_its_first_frame():
    frames = np.stack([_speckle(seed=1), _speckle(seed=2)]).astype(np.uint16) * 100
    [result] = ingest_files([("loop.dcm", _dicom(frames, frames=2))])
    assert isinstance(result, IngestedImage), result
    first = frames[0].astype(float)
    expected = np.round((first - first.min()) * 255 / (first.max() - first.min()))
    assert np.array_equal(result.pixels, expected.astype(np.uint8))


def test_a_compressed_dicom_without_a_decoder_is_rejected_naming_the_syntax():
    [result] = ingest_files([("scan.dcm", _dicom(_speckle(), syntax=JPEGLSLossless))])
    assert isinstance(result, Rejection)
    assert result.reason.startswith("compressed DICOM (JPEG-LS Lossless")


def test_a_16_bit_png_is_rescaled_by_its_actual_range():
    pixels = (_speckle().astype(np.uint16) * 10) + 1000
    [result] = ingest_files([("deep.png", _png(pixels))])
    assert isinstance(result, IngestedImage), result
    assert result.pixels.min() == 0 and result.pixels.max() == 255


def test_an_rgb_jpeg_with_a_colour_overlay_becomes_grayscale():
    rgb = np.repeat(_speckle()[..., None], 3, axis=2)
    rgb[5:10, 5:60] = (255, 255, 0)  # a yellow caliper mark
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="JPEG", quality=95)
    [result] = ingest_files([("screen.jpg", buffer.getvalue())])
    assert isinstance(result, IngestedImage), result
    assert result.pixels.ndim == 2


def test_iter_folder_feeds_files_recursively_and_skips_dotfiles(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "scan.png").write_bytes(_png(_speckle()))
    (tmp_path / "top.png").write_bytes(_png(_speckle(seed=1)))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.png").write_bytes(_png(_speckle(seed=2)))
    (tmp_path / ".DS_Store").write_bytes(b"x")
    results = list(ingest_files(iter_folder(tmp_path)))
    assert [r.source_name for r in results] == ["a/b/scan.png", "top.png"]


def test_crop_finds_the_image_inside_a_synthetic_scanner_screen():
    screen = np.full((300, 400), 60, dtype=np.uint8)  # grey panel
    screen[0:20, :] = 30  # header bar...
    screen[5:12, 10:200:3] = 220  # ...with text on it
    screen[40:280, 300:310] = np.linspace(0, 255, 240, dtype=np.uint8)[:, None]  # grey-map bar
    screen[50:250:25, 380:390] = 200  # depth scale ticks
    screen[30:290, 60:280] = _speckle(260, 220)
    screen[150:200, 120:200] = 0  # an echo-free region inside the image
    cropped, box = crop_to_field_of_view(screen)
    assert box == (60, 30, 280, 290)
    assert np.array_equal(cropped, screen[30:290, 60:280])


def test_crop_leaves_an_image_without_a_screen_whole():
    pixels = _speckle()
    cropped, box = crop_to_field_of_view(pixels)
    assert box == (0, 0, 160, 120)
    assert np.array_equal(cropped, pixels)


def test_crop_leaves_a_featureless_image_whole():
    assert crop_to_field_of_view(np.full((64, 64), 90, dtype=np.uint8))[1] == (0, 0, 64, 64)


def test_crop_removes_the_header_and_panels_of_timtrack_screen_frames(timtrack):
    frames = sorted((timtrack / "dataset_2").rglob("*.png"))
    assert frames
    for frame in frames[::4]:
        pixels = np.asarray(PILImage.open(frame).convert("L"))
        _, (left, top, right, bottom) = crop_to_field_of_view(pixels)
        assert top >= 50, f"{frame.name}: header text rows kept (top {top})"
        fov_left, fov_top, fov_right, fov_bottom = TIMTRACK_FIELD_OF_VIEW
        overlap = max(0, min(right, fov_right) - max(left, fov_left)) * max(
            0, min(bottom, fov_bottom) - max(top, fov_top)
        )
        union = (
            (right - left) * (bottom - top)
            + (fov_right - fov_left) * (fov_bottom - fov_top)
            - overlap
        )
        assert overlap / union > 0.97, f"{frame.name}: crop {(left, top, right, bottom)}"


def test_crop_leaves_already_cropped_timtrack_frames_nearly_whole(timtrack):
    for frame in sorted((timtrack / "dataset_1").rglob("*.png"))[::8]:
        pixels = np.asarray(PILImage.open(frame).convert("L"))
        cropped, _ = crop_to_field_of_view(pixels)
        assert cropped.size >= 0.85 * pixels.size, frame.name
        assert cropped.shape[0] == pixels.shape[0], frame.name


def test_crop_leaves_already_cropped_muscle_images_whole(muscle_images):
    for name in ["dlt_apo_img_00121.png", "dlt_apo_img_00190.png", "dlt_apo_img_00242.png"]:
        pixels = np.asarray(PILImage.open(muscle_images / name))
        assert crop_to_field_of_view(pixels)[1] == (0, 0, 512, 512)


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
    report = ingest.IngestReport(
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
    assert str(ingest.IngestReport(imported=1)) == "Imported 1 image."


def _upload(job: IngestJob, files: dict[str, bytes]) -> None:
    job.upload_names = [
        default_storage.save(f"{job.upload_dir}/{name}", ContentFile(data))
        for name, data in files.items()
    ]
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

    monkeypatch.setattr(ingest, "ingest_into_dataset", broken)
    jobs.run_now(job)
    assert (job.status, job.error) == ("failed", "RuntimeError: disk full")
    assert default_storage.exists(job.upload_names[0])
