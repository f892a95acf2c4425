import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from quiz.ingest.sources import LeftOut, iter_folder
from quiz.models import Dataset


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(20, 230, (96, 128), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path) -> Path:
    # Not tmp_path itself: the tests' MEDIA_ROOT lives there.
    path = tmp_path / "in"
    path.mkdir()
    return path


def _import(*args, **options) -> str:
    out = io.StringIO()
    call_command("import_dataset", *map(str, args), stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_a_folder_imports_and_the_report_names_each_rejected_file(folder):
    (folder / "scans").mkdir()
    for seed in range(3):
        (folder / "scans" / f"scan{seed}.png").write_bytes(_png(seed))
    (folder / "notes.txt").write_text("not an image")
    output = _import(folder, name="Muscle")
    assert "Created dataset 'Muscle' (ultrasound profile)." in output
    assert "Imported 3 images; rejected 1 file:" in output
    assert "  notes.txt: not an image (unrecognised file format)" in output
    assert Dataset.objects.get(name="Muscle").images.count() == 3


@pytest.mark.django_db
def test_importing_again_adds_to_the_dataset_and_skips_duplicates(folder):
    (folder / "a.png").write_bytes(_png(1))
    _import(folder, name="Muscle")
    (folder / "b.png").write_bytes(_png(2))
    output = _import(folder, name="Muscle")
    assert "Adding to dataset 'Muscle' (ultrasound profile)." in output
    assert "Imported 1 image (1 duplicate skipped)." in output
    assert Dataset.objects.get(name="Muscle").images.count() == 2


@pytest.mark.django_db
def test_a_zip_imports_with_member_names(folder):
    archive = folder / "scans.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("left/a.png", _png(1))
        zf.writestr("right/b.png", _png(2))
    output = _import(archive, name="Zipped")
    assert "Imported 2 images." in output
    names = Dataset.objects.get(name="Zipped").images.values_list("source_name", flat=True)
    assert sorted(names) == ["scans.zip/left/a.png", "scans.zip/right/b.png"]


@pytest.mark.django_db
def test_the_limit_caps_the_number_of_images(folder):
    for seed in range(4):
        (folder / f"{seed}.png").write_bytes(_png(seed))
    assert "Imported 2 images." in _import(folder, name="Few", limit=2)


@pytest.mark.django_db
def test_a_folder_of_only_bad_files_fails(folder):
    (folder / "notes.txt").write_text("no")
    (folder / "broken.png").write_bytes(_png(1)[:100])
    with pytest.raises(CommandError, match="Nothing could be imported"):
        _import(folder, name="Bad")


@pytest.mark.django_db
def test_a_missing_path_fails(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _import(tmp_path / "nope", name="Nope")


@pytest.mark.django_db
def test_fetch_sample_downloads_into_the_path_then_imports_it(tmp_path, monkeypatch):
    def fake_fetch(dest: Path) -> list[Path]:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "img.tif").write_bytes(_png(5))
        return [dest / "img.tif"]

    monkeypatch.setattr("quiz.management.commands.import_dataset.fetch_samples", fake_fetch)
    output = _import(tmp_path / "samples", name="Demo", fetch_sample=True)
    assert "Imported 1 image." in output


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder beside the imported one, holding a valid scan that must never be read."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.png").write_bytes(_png(99))
    return path


def _report_entries(output: str) -> dict[str, str]:
    entries = [line.strip().split(": ", 1) for line in output.splitlines() if line[:2] == "  "]
    return dict(entries)


@pytest.mark.django_db
def test_symbolic_links_are_never_followed_and_each_is_named_with_why(folder, outside):
    (folder / "scan.png").write_bytes(_png(1))
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.png").write_bytes(_png(2))
    links = {
        "passwd": Path("/etc/passwd"),
        "secret.png": outside / "secret.png",
        "outside_dir": outside,
        "dangling.png": Path("gone.png"),
        "sub/copy.png": Path("../scan.png"),
        "sub/again": Path(".."),  # a folder that links back up: a loop for a walk that follows
        "loop_a": Path("loop_b"),
        "loop_b": Path("loop_a"),
    }
    for name, target in links.items():
        (folder / name).symlink_to(target)

    output = _import(folder, name="Linked")

    images = Dataset.objects.get(name="Linked").images
    assert sorted(images.values_list("source_name", flat=True)) == ["scan.png", "sub/deep.png"]
    assert "Imported 2 images." in output
    assert "Skipped 8 files:" in output
    secret = outside / "secret.png"
    assert _report_entries(output) == {
        "passwd": "symbolic link to /etc/passwd, outside the folder: not followed",
        "secret.png": f"symbolic link to {secret}, outside the folder: not followed",
        "outside_dir": f"symbolic link to {outside}, outside the folder: not followed",
        "dangling.png": "dangling symbolic link (to gone.png, which does not exist): skipped",
        "sub/copy.png": "symbolic link to scan.png, inside the folder: not followed (what it "
        "points to is read under its own name)",
        "sub/again": "symbolic link to the folder itself: not followed",
        "loop_a": "symbolic link in a loop of links: skipped",
        "loop_b": "symbolic link in a loop of links: skipped",
    }


@pytest.mark.django_db
def test_a_pipe_in_the_folder_is_named_and_never_opened(folder):
    (folder / "scan.png").write_bytes(_png(1))
    os.mkfifo(folder / "pipe.png")  # opening it to read would wait for a writer forever
    output = _import(folder, name="Piped")
    assert "Imported 1 image." in output
    assert _report_entries(output) == {
        "pipe.png": "not a regular file (a pipe, socket or device): not read"
    }


def test_a_file_swapped_for_a_link_just_before_it_is_opened_is_not_followed(
    folder, outside, monkeypatch
):
    (folder / "a.png").write_bytes(_png(1))
    (folder / "b.png").write_bytes(_png(2))
    real_open = os.open

    def swap_then_open(path, flags, *args):
        # The race: b.png was a regular file when looked at, and is a link when opened.
        if Path(path).name == "b.png" and not Path(path).is_symlink():
            Path(path).unlink()
            Path(path).symlink_to(outside / "secret.png")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", swap_then_open)
    names = list(iter_folder(folder))
    assert names[0][0] == "a.png"
    assert names[1] == (
        "b.png",
        LeftOut("could not be opened (Too many levels of symbolic links): not read"),
    )


@pytest.mark.django_db
def test_undecodable_file_names_are_reported_as_text(folder):
    name = os.fsdecode(b"scan-\xff\xfe.png")  # not UTF-8: Python keeps the bytes as surrogates
    (folder / name).write_bytes(_png(1))
    (folder / os.fsdecode(b"notes-\xff.txt")).write_text("no")
    output = _import(folder, name="Bytes")
    assert "  notes-\ufffd.txt: not an image (unrecognised file format)" in output
    names = Dataset.objects.get(name="Bytes").images.values_list("source_name", flat=True)
    assert list(names) == ["scan-\ufffd\ufffd.png"]


def _colour_jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(20, 230, (96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.mark.django_db
def test_profile_generic_imports_a_folder_in_colour(folder):
    for seed in range(2):
        (folder / f"photo{seed}.jpg").write_bytes(_colour_jpeg(seed))
    (folder / "scan.png").write_bytes(_png(9))
    output = _import(folder, name="Faces", profile="generic")
    assert "Created dataset 'Faces' (generic profile)." in output
    assert "Imported 3 images." in output
    assert "  photo0.jpg: kept in colour" in output and "  scan.png: grey" in output
    dataset = Dataset.objects.get(name="Faces")
    assert dataset.profile == "generic"
    channels = dict(dataset.images.values_list("source_name", "channels"))
    assert channels == {"photo0.jpg": 3, "photo1.jpg": 3, "scan.png": 1}
    for image in dataset.images.all():
        assert image.pixels().shape[:2] == (96, 128)  # kept whole: no field-of-view crop
        assert image.pixels().ndim == (3 if image.channels == 3 else 2)


@pytest.mark.django_db
def test_the_default_profile_is_ultrasound_and_a_dataset_keeps_its_own(folder):
    (folder / "a.png").write_bytes(_png(1))
    assert "Created dataset 'Muscle' (ultrasound profile)." in _import(folder, name="Muscle")
    (folder / "b.jpg").write_bytes(_colour_jpeg(2))
    output = _import(folder, name="Muscle")
    assert "Adding to dataset 'Muscle' (ultrasound profile)." in output
    assert Dataset.objects.get(name="Muscle").images.get(source_name="b.jpg").channels == 1


@pytest.mark.django_db
def test_changing_the_profile_of_a_dataset_with_images_is_refused(folder):
    (folder / "a.png").write_bytes(_png(1))
    _import(folder, name="Muscle")
    with pytest.raises(
        CommandError, match="already holds 1 image\\(s\\) ingested with the ultrasound profile"
    ):
        _import(folder, name="Muscle", profile="generic")
    assert Dataset.objects.get(name="Muscle").profile == "ultrasound"
    # An empty dataset takes the profile asked for.
    Dataset.objects.create(name="Empty")
    assert "Adding to dataset 'Empty' (generic profile)." in _import(
        folder, name="Empty", profile="generic"
    )
