"""Every file ingest leaves out is named, each on its own line, with the reason and its twin."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage

from quiz.ingest import pipeline
from quiz.ingest.pipeline import ingest_files, ingest_into_dataset
from quiz.ingest.sources import Skipped
from quiz.ingest.uploads import store_uploads
from quiz.models import Dataset, Image, Split
from tests.dicoms import ultrasound_dicom


def _speckle(seed: int, height: int = 120, width: int = 160) -> np.ndarray:
    """Rayleigh echoes blurred over a few pixels: speckle, as ingest sees from a scanner."""
    echoes = np.random.default_rng(seed).rayleigh(45.0, (height, width))
    return np.clip(ndimage.gaussian_filter(echoes, 0.8) * 1.6 + 20, 0, 255).astype(np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def test_members_with_unsafe_names_are_named_and_their_neighbours_import():
    archive = _zip(
        {
            "../../x.png": _png(_speckle(1)),
            "/etc/scan.png": _png(_speckle(2)),
            "C:\\scans\\y.png": _png(_speckle(3)),
            "fine/../../z.png": _png(_speckle(4)),
            "fine/scan.png": _png(_speckle(5)),
        }
    )
    results = list(ingest_files([("upload.zip", archive)]))
    skipped = {item.source_name: item.reason for item in results if isinstance(item, Skipped)}
    assert sorted(skipped) == [
        "upload.zip/../../x.png",
        "upload.zip//etc/scan.png",
        "upload.zip/C:\\scans\\y.png",
        "upload.zip/fine/../../z.png",
    ]
    assert all(reason.startswith("unsafe name in the archive") for reason in skipped.values())
    assert [item.source_name for item in results if not isinstance(item, Skipped)] == [
        "upload.zip/fine/scan.png"
    ]


def test_an_archive_of_only_unsafe_members_is_named_member_by_member():
    results = list(ingest_files([("evil.zip", _zip({"../x.png": _png(_speckle(1))}))]))
    assert [(type(item), item.source_name) for item in results] == [(Skipped, "evil.zip/../x.png")]


@pytest.mark.django_db
def test_a_duplicate_is_named_with_the_file_it_duplicates():
    dataset = Dataset.objects.create(name="muscle")
    scan = _png(_speckle(1))
    report = ingest_into_dataset(dataset, [("first.png", scan), ("again/copy.png", scan)])
    assert (report.imported, report.duplicates) == (1, 1)
    assert report.skipped == [{"file": "again/copy.png", "reason": "duplicate of first.png"}]
    later = ingest_into_dataset(dataset, [("third.png", scan)])
    assert later.skipped == [{"file": "third.png", "reason": "duplicate of first.png"}]
    assert str(later).splitlines() == [
        "Imported 0 images (1 duplicate skipped).",
        "Skipped 1 file:",
        "  third.png: duplicate of first.png",
        "Crops of the dataset: 1 automatic, 0 adjusted, 0 excluded; 0 flagged awaiting review.",
    ]


@pytest.mark.django_db
def test_a_re_encoded_copy_is_skipped_as_a_near_duplicate_and_a_different_scan_is_not():
    dataset = Dataset.objects.create(name="muscle")
    scan = _speckle(1, 240, 320)
    # Speckle with structure, as a scan has: a smooth pattern a JPEG keeps.
    rows, columns = np.mgrid[0:240, 0:320]
    scan = (scan * 0.3 + 90 + 60 * np.sin(rows / 17.0) * np.cos(columns / 23.0)).astype(np.uint8)
    other = np.ascontiguousarray(np.flipud(scan))
    report = ingest_into_dataset(
        dataset,
        [
            ("scan.png", _png(scan)),
            ("scan-export.jpg", _jpeg(scan, quality=75)),
            ("brighter.png", _png(np.clip(scan.astype(int) + 12, 0, 255).astype(np.uint8))),
            ("flipped.png", _png(other)),
        ],
    )
    assert report.imported == 2
    reasons = {entry["file"]: entry["reason"] for entry in report.skipped}
    assert sorted(reasons) == ["brighter.png", "scan-export.jpg"]
    assert all(
        reason.startswith("near-duplicate of scan.png (distance ") for reason in reasons.values()
    )
    assert set(dataset.images.values_list("source_name", flat=True)) == {"scan.png", "flipped.png"}


@pytest.mark.django_db
def test_a_flagged_image_is_reported_and_kept_out_of_both_parts_until_accepted(monkeypatch):
    from quiz.ingest.bmode_check import Flag

    def flag_the_bright_one(frame, field=None, *, modality=None):
        if frame.mean() > 150:
            return [Flag("colour-flow", "saturated colour in 12% of the field")]
        return []

    monkeypatch.setattr(pipeline, "check_bmode", flag_the_bright_one)
    dataset = Dataset.objects.create(name="muscle", held_out_share=0.5)
    files = [(f"{i}.png", _png(_speckle(i))) for i in range(4)]
    files.append(
        ("doppler.png", _png(np.clip(_speckle(9).astype(int) + 100, 0, 255).astype(np.uint8)))
    )
    report = ingest_into_dataset(dataset, files)
    assert report.imported == 5
    assert report.flagged == [
        {"file": "doppler.png", "reason": "saturated colour in 12% of the field"}
    ]
    assert "Flagged 1 image as not plain B-mode" in str(report)
    flagged = Image.objects.get(source_name="doppler.png")
    assert flagged.split == "" and not flagged.is_usable
    assert sorted(dataset.images.exclude(pk=flagged.pk).values_list("split", flat=True)) == [
        Split.HELD_OUT,
        Split.HELD_OUT,
        Split.TRAIN,
        Split.TRAIN,
    ]


def _cine_dicom(seed: int, frames: int = 40) -> bytes:
    """A multi-frame ultrasound DICOM: speckle that changes from frame to frame."""
    loop = np.stack([_speckle(seed * 100 + k) for k in range(frames)])
    return ultrasound_dicom(loop, frames=frames)


@pytest.mark.django_db
def test_the_frames_of_a_cine_loop_become_images_that_share_one_part_of_the_split():
    dataset = Dataset.objects.create(name="loops", held_out_share=0.5, frames_per_file=3)
    files = [(f"loop{seed}.dcm", _cine_dicom(seed)) for seed in range(1, 5)]
    report = ingest_into_dataset(dataset, files)
    assert report.imported == 12, report
    assert {"file": "loop1.dcm", "reason": "kept 3 of 40 frames (evenly spaced)"} in report.notes
    names = sorted(dataset.images.values_list("source_name", flat=True))
    assert names[:3] == [f"loop1.dcm [frame {k} of 3]" for k in (1, 2, 3)]
    first, middle, last = (
        dataset.images.get(source_name=f"loop1.dcm [frame {k} of 3]").pixels() for k in (1, 2, 3)
    )
    assert np.array_equal(first, _speckle(100)) and np.array_equal(last, _speckle(139))
    assert not np.array_equal(middle, first)
    parts: dict[str, set[str]] = {}
    for image in dataset.images.all():
        parts.setdefault(image.source_key, set()).add(image.split)
    assert len(parts) == 4
    assert all(len(split) == 1 for split in parts.values()), parts
    assert sorted(next(iter(split)) for split in parts.values()) == [
        Split.HELD_OUT,
        Split.HELD_OUT,
        Split.TRAIN,
        Split.TRAIN,
    ]


@pytest.mark.django_db
def test_an_ingest_stopped_by_its_soft_time_limit_fails_naming_the_limit(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from quiz import jobs
    from quiz.models import IngestJob

    real_store = pipeline._store
    stored = []

    def store_then_stop(dataset, item, index):
        if stored:
            raise SoftTimeLimitExceeded()
        stored.append(item.source_name)
        return real_store(dataset, item, index)

    monkeypatch.setattr(pipeline, "_store", store_then_stop)
    job = IngestJob.objects.create(dataset=Dataset.objects.create(name="slow"))
    scans = [ContentFile(_png(_speckle(i)), name=f"{i}.png") for i in range(3)]
    store_uploads(job.upload_dir, scans, job.uploads)
    job.save()
    jobs.run_now(job)
    assert job.status == "failed"
    assert job.error.startswith("Stopped at the ingest time limit (")
    assert "after 1 image: those are kept" in job.error
    assert job.imported_count == 1
    assert all(default_storage.exists(upload["stored"]) for upload in job.uploads)
    assert job.dataset.images.get().split in {Split.TRAIN, Split.HELD_OUT}


def test_expected_rejections_are_one_line_reasons_without_a_traceback(caplog):
    dicom = _cine_dicom(1, frames=2)
    files = [
        ("notes.txt", b"not an image"),
        ("cut.png", _png(_speckle(1))[:200]),
        ("cut.dcm", dicom[: len(dicom) // 2]),
        ("header-only.dcm", dicom[:132] + b"\x00" * 64),
        ("bad.zip", b"PK\x03\x04" + b"\x00" * 40),
    ]
    with caplog.at_level("DEBUG"):
        results = list(ingest_files(files))
    assert [type(item).__name__ for item in results] == ["Rejection"] * len(files)
    assert all("\n" not in item.reason and item.reason for item in results)
    assert not [record for record in caplog.records if record.exc_info], caplog.text
