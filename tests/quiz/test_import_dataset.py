import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

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
    assert "Created dataset 'Muscle'." in output
    assert "Imported 3 images; rejected 1 file:" in output
    assert "  notes.txt: not an image (unrecognised file format)" in output
    assert Dataset.objects.get(name="Muscle").images.count() == 3


@pytest.mark.django_db
def test_importing_again_adds_to_the_dataset_and_skips_duplicates(folder):
    (folder / "a.png").write_bytes(_png(1))
    _import(folder, name="Muscle")
    (folder / "b.png").write_bytes(_png(2))
    output = _import(folder, name="Muscle")
    assert "Adding to dataset 'Muscle'." in output
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
