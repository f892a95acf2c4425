from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganengine import DataError, load_folder, prepare_arrays
from tests.ganengine.conftest import SHARED_DATA


def _save(path: Path, pixels: np.ndarray, mode: str | None = None) -> None:
    Image.fromarray(pixels, mode=mode).save(path)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"{tmp_path / 'nope'} does not exist"):
        load_folder(tmp_path / "nope", 32)


def test_folder_without_images_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=f"{tmp_path} has no images"):
        load_folder(tmp_path, 32)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    _save(tmp_path / "good.png", np.zeros((40, 40), np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="Cannot read image .*broken.png"):
        load_folder(tmp_path, 32)


def test_every_supported_format_loads_as_grayscale_in_range(tmp_path: Path) -> None:
    gradient = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))  # [64, 64]
    _save(tmp_path / "a.png", gradient)
    _save(tmp_path / "b.jpg", np.stack([gradient] * 3, axis=2))  # RGB is converted
    _save(tmp_path / "c.tif", gradient.astype(np.uint16) * 257)  # 16-bit is scaled, not clipped
    _save(tmp_path / "d.BMP", gradient)
    images = load_folder(tmp_path, 32)
    assert images.shape == (4, 1, 32, 32)
    assert images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    # Same picture in every format: left edge black, right edge near white.
    assert torch.all(images[:, 0, :, 0] < -0.9)
    assert torch.all(images[:, 0, :, -1] > 0.8)


def test_non_square_images_are_centre_cropped() -> None:
    wide = np.zeros((20, 60), np.uint8)
    wide[:, 20:40] = 255  # the centre square is white, the sides black
    (image,) = prepare_arrays([wide], 32)
    assert torch.all(image == 1.0)


def test_prepare_arrays_rejects_non_uint8_and_empty_input() -> None:
    with pytest.raises(DataError, match="Array 1 has dtype float64"):
        prepare_arrays([np.zeros((8, 8), np.uint8), np.zeros((8, 8))], 32)
    with pytest.raises(DataError, match="No images"):
        prepare_arrays([], 32)


def test_real_ultrasound_images_load(tmp_path: Path) -> None:
    source = SHARED_DATA / "muscle-us" / "images"
    if not source.is_dir():
        pytest.skip(f"real test images not found at {source} (../shared/data is absent)")
    files = sorted(source.glob("*.png"))[:5]
    for file in files:  # links, so the shared images are never copied
        (tmp_path / file.name).symlink_to(file)
    images = load_folder(tmp_path, 64)
    assert images.shape == (5, 1, 64, 64)
    assert -1 <= images.min() < images.max() <= 1
    with Image.open(files[0]) as original:
        pixels = np.asarray(original.convert("L"))
    # The web app decodes uploads itself: both paths must give the same tensor.
    assert torch.equal(prepare_arrays([pixels], 64)[0], images[0])
