"""Importing a generator's images made elsewhere: the same bad-input rules as ingest, no crop."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from quiz import jobs
from quiz.imaging import decode_png, pixel_sha256
from quiz.ingest.synthetic import import_into_generator
from quiz.models import (
    Dataset,
    Generator,
    GeneratorImport,
    Image,
    ImageKind,
    JobStatus,
    Split,
    TrainingRun,
)
from tests.quiz.ingest.test_ingest import _decompression_bomb_png

pytestmark = pytest.mark.django_db


def _pixels(seed: int, height: int = 64, width: int = 80) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


def _encoded(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _reasons(entries: list[dict[str, str]]) -> dict[str, str]:
    return {item["file"]: item["reason"] for item in entries}


@pytest.fixture
def folder(tmp_path) -> Path:
    # Not tmp_path itself: the tests' MEDIA_ROOT lives there.
    path = tmp_path / "in"
    path.mkdir()
    return path


def _command(*args, **options) -> str:
    out = io.StringIO()
    call_command("import_synthetic", *map(str, args), stdout=out, **options)
    return out.getvalue()


def test_a_folder_imports_without_a_crop_in_the_one_encoding(folder):
    pixels = _pixels(1, 40, 56)
    (folder / "out").mkdir()
    (folder / "out" / "0001.png").write_bytes(_encoded(pixels))
    (folder / "out" / "0002.jpg").write_bytes(_encoded(_pixels(2), "JPEG"))
    (folder / "out" / "0003.tif").write_bytes(_encoded(_pixels(3, 32, 32), "TIFF"))
    output = _command(folder, generator="stylegan2-ada", description="trained at home")
    assert "Created generator 'stylegan2-ada'." in output
    assert "Imported 3 images." in output
    generator = Generator.objects.get(name="stylegan2-ada")
    assert generator.is_external and generator.description == "trained at home"
    assert not generator.training_is_known
    assert "the held-out status of real panels beside “stylegan2-ada”'s images is unknown" in output
    image = generator.images.get(source_name="out/0001.png")
    assert image.kind == ImageKind.SYNTHETIC and image.training_run is None
    # Every pixel kept (no field-of-view crop), stored as the canonical grey PNG.
    assert (image.width, image.height) == (56, 40)
    assert np.array_equal(image.pixels(), pixels)
    assert image.sha256 == pixel_sha256(pixels)
    with image.file.open("rb") as handle:
        assert handle.read().startswith(b"\x89PNG")
    assert not image.file.name.endswith("0001.png")  # stored under a generated name
    assert generator.imports.get().status == JobStatus.SUCCEEDED


def test_a_zip_imports_and_every_bad_file_is_named_with_its_reason(tmp_path):
    good = _encoded(_pixels(1))
    archive = _zip(
        {
            "gen/0001.png": good,
            "gen/0002.png": good,  # the same pixels again
            "gen/corrupt.png": good[:60],
            "gen/notes.txt": b"seed 1..100, truncation 0.7",
            "gen/tiny.png": _encoded(_pixels(4, 16, 16)),
            "gen/bomb.png": _decompression_bomb_png(),
            "gen/zipbomb.png": bytes(50 * 1024 * 1024),
            "../escape.png": good,
            "gen/colour.png": _encoded(np.stack([_pixels(5), _pixels(6), _pixels(7)], axis=-1)),
        }
    )
    path = tmp_path / "samples.zip"
    path.write_bytes(archive)
    output = _command(path, generator="external")
    job = GeneratorImport.objects.get()
    assert (job.imported_count, job.duplicate_count) == (2, 1)
    rejected = _reasons(job.rejections)
    assert rejected["samples.zip/gen/corrupt.png"].startswith("corrupt or truncated PNG")
    assert rejected["samples.zip/gen/notes.txt"] == "not an image (unrecognised file format)"
    assert rejected["samples.zip/gen/tiny.png"].startswith("too small (16x16 pixels")
    assert rejected["samples.zip/gen/bomb.png"].startswith("decompression bomb")
    assert rejected["samples.zip/gen/zipbomb.png"].startswith("zip bomb")
    skipped = _reasons(job.skipped)
    assert skipped["samples.zip/gen/0002.png"] == "duplicate of samples.zip/gen/0001.png"
    assert skipped["samples.zip/../escape.png"].startswith("unsafe name in the archive")
    assert _reasons(job.notes)["samples.zip/gen/colour.png"] == "kept in colour"
    colour = Image.objects.get(source_name="samples.zip/gen/colour.png")
    assert colour.channels == 3
    assert colour.pixels().shape == (colour.height, colour.width, 3)
    assert "  samples.zip/gen/notes.txt: not an image (unrecognised file format)" in output


def test_colour_outputs_stay_in_colour_and_equal_channel_ones_are_grey():
    colour = np.stack([_pixels(1), _pixels(2), _pixels(3)], axis=-1)
    grey_as_rgb = np.repeat(_pixels(4)[..., None], 3, axis=2)
    # The same picture with its channels swapped: another image, not a near-duplicate.
    swapped = colour[..., [1, 2, 0]]
    generator = Generator.objects.create(name="external colour")
    files = [
        ("colour.png", _encoded(colour)),
        ("grey.png", _encoded(grey_as_rgb)),
        ("swapped.png", _encoded(swapped)),
    ]
    report = import_into_generator(generator, files)
    assert report.imported == 3 and not report.skipped
    images = {image.source_name: image for image in generator.images.all()}
    assert (images["colour.png"].channels, images["grey.png"].channels) == (3, 1)
    assert np.array_equal(images["colour.png"].pixels(), colour)
    assert np.array_equal(images["grey.png"].pixels(), grey_as_rgb[..., 0])
    assert _reasons(report.notes) == {
        "colour.png": "kept in colour",
        "swapped.png": "kept in colour",
    }


def test_a_scan_is_not_taken_as_a_generator_output():
    dataset = Dataset.objects.create(name="muscle")
    pixels = _pixels(7)
    scan = Image.objects.create(
        kind=ImageKind.REAL,
        dataset=dataset,
        source_name="scan.png",
        width=80,
        height=64,
        sha256=pixel_sha256(pixels),
    )
    generator = Generator.objects.create(name="copycat")
    report = import_into_generator(generator, [("fake.png", _encoded(pixels))])
    assert report.imported == 0
    assert _reasons(report.rejections)["fake.png"] == (
        f"has the pixels of real image #{scan.pk} (scan.png) of dataset “muscle”: a scan is not "
        "a generator's output"
    )


def test_masks_pair_by_file_name_and_every_unpaired_one_is_named(folder, tmp_path):
    images = {f"{n:04}.png": _pixels(n) for n in range(1, 5)}
    for name, pixels in images.items():
        (folder / name).write_bytes(_encoded(pixels))
    masks = tmp_path / "masks"
    masks.mkdir()
    label = np.zeros((64, 80), np.uint8)
    label[10:20] = 1
    label[30:40] = 2
    (masks / "0001.png").write_bytes(_encoded(label))
    (masks / "0002.tif").write_bytes(_encoded(label, "TIFF"))  # another format pairs too
    (masks / "0003.png").write_bytes(_encoded(label[:32, :32]))  # not its image's size
    (masks / "0009.png").write_bytes(_encoded(label))  # no image of that name
    (masks / "broken.png").write_bytes(_encoded(label)[:70])
    _command(folder, generator="pix2pix", masks=masks)
    generator = Generator.objects.get(name="pix2pix")
    with_mask = {image.source_name: image for image in generator.images.exclude(mask="")}
    assert set(with_mask) == {"0001.png", "0002.png"}
    with with_mask["0001.png"].mask.open("rb") as handle:
        assert np.array_equal(decode_png(handle.read()), label)
    job = generator.imports.get()
    notes = _reasons(job.notes)
    assert notes["0003.png"] == "imported without a mask: 0003.png is 32x32, the image 80x64"
    assert notes["0004.png"] == "imported without a mask: no mask is named 0004"
    skipped = _reasons(job.skipped)
    assert skipped["0009.png (mask)"] == "not used: no image of this import is named like it"
    assert _reasons(job.rejections)["broken.png (mask)"].startswith("corrupt or truncated PNG")


def test_a_generator_trained_here_takes_no_import(folder):
    dataset = Dataset.objects.create(name="muscle")
    run = TrainingRun.objects.create(dataset=dataset, name="here")
    Generator.of_run(run)
    (folder / "a.png").write_bytes(_encoded(_pixels(1)))
    with pytest.raises(CommandError, match="is a run trained here"):
        _command(folder, generator="here")
    assert not GeneratorImport.objects.exists()


def test_nothing_importable_fails_the_command_with_the_report(folder):
    (folder / "a.txt").write_text("hello")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing could be imported: 1 file rejected"):
        call_command("import_synthetic", str(folder), generator="empty", stdout=out)
    assert "a.txt: not an image" in out.getvalue()
    assert GeneratorImport.objects.get().status == JobStatus.FAILED


def _dataset_with_scans(count: int = 4) -> tuple[Dataset, list[Image]]:
    dataset = Dataset.objects.create(name="muscle")
    scans = []
    for seed in range(count):
        pixels = _pixels(100 + seed)
        scans.append(
            Image.objects.create(
                kind=ImageKind.REAL,
                dataset=dataset,
                split=Split.HELD_OUT,
                source_name=f"upload.zip/images/scan_{seed:03}.png",
                width=80,
                height=64,
                sha256=pixel_sha256(pixels),
                source_sha256=f"{seed}" * 64,
            )
        )
    return dataset, scans


def test_a_manifest_by_name_and_by_hash_resolves_and_names_what_matches_nothing(folder, tmp_path):
    dataset, scans = _dataset_with_scans()
    (folder / "a.png").write_bytes(_encoded(_pixels(1)))
    manifest = tmp_path / "trained.csv"
    manifest.write_text(
        "file,split\n"
        "scan_000.png,train\n"  # by its base name
        "images/scan_001.png,train\n"  # by the tail of its path
        f"{scans[2].sha256},train\n"  # by its pixel SHA-256
        "scan_404.png,train\n"  # names nothing
        f"{'f' * 64},train\n"  # a hash of nothing held here
    )
    output = _command(folder, generator="external", trained_on="muscle", training_manifest=manifest)
    generator = Generator.objects.get(name="external")
    assert generator.trained_on == dataset and generator.training_is_known
    expected = {scans[n].sha256 for n in range(3)} | {f"{n}" * 64 for n in range(3)} | {"f" * 64}
    assert set(generator.manifest_hashes) == expected
    job = generator.imports.get()
    assert _reasons(job.skipped)["trained.csv line 5: scan_404.png"] == (
        "no real image of dataset “muscle” has this file name: not in the record"
    )
    assert _reasons(job.notes)[f"trained.csv line 6: {'f' * 64}"].startswith(
        "matches no real image held here now; kept in the record"
    )
    assert "trained.csv: 5 entries named 3 real images held here" in output


def test_an_unreadable_manifest_is_named_and_the_images_still_import(folder, tmp_path):
    (folder / "a.png").write_bytes(_encoded(_pixels(1)))
    manifest = tmp_path / "trained.txt"
    manifest.write_bytes(b"\xff\xfe\x00binary")
    output = _command(folder, generator="external", training_manifest=manifest)
    assert "trained.txt: training manifest not used: not a text file" in output
    assert Generator.objects.get().manifest_hashes is None
    assert Generator.objects.get().images.count() == 1


def test_file_names_in_a_manifest_need_the_dataset_they_name(folder, tmp_path):
    _dataset_with_scans()
    (folder / "a.png").write_bytes(_encoded(_pixels(1)))
    manifest = tmp_path / "trained.txt"
    manifest.write_text("# the training set\nscan_000.png\n")
    _command(folder, generator="external", training_manifest=manifest)
    job = GeneratorImport.objects.get()
    assert _reasons(job.skipped)["trained.txt line 2: scan_000.png"].startswith(
        "a file name needs the dataset it names an image of"
    )


def test_an_upload_job_reads_its_stored_files_and_deletes_them(settings):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from quiz.ingest.uploads import store_uploads

    generator = Generator.objects.create(name="external")
    job = GeneratorImport(generator=generator)
    files = [ContentFile(_zip({"x/1.png": _encoded(_pixels(1))}), name="batch.zip")]
    store_uploads(job.upload_dir, files, stored=job.uploads)
    store_uploads(
        f"{job.upload_dir}/masks", [ContentFile(_encoded(_pixels(2)), name="1.png")],
        stored=job.mask_uploads,
    )  # fmt: skip
    store_uploads(
        f"{job.upload_dir}/manifest", [ContentFile(b"f" * 64, name="m.txt")],
        stored=job.manifest_upload,
    )  # fmt: skip
    job.save()
    job = jobs.run_now(job)
    assert job.status == JobStatus.SUCCEEDED, job.error
    image = generator.images.get()
    assert image.source_name == "batch.zip/x/1.png" and image.mask
    generator.refresh_from_db()
    assert generator.manifest_hashes == ["f" * 64]
    assert not any(default_storage.exists(u["stored"]) for u in job.all_uploads)
