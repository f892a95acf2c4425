"""ganengine on RGB: channels from the data or --channels, recorded, and RGB images out."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganengine import DataError, families, load_folder, prepare_arrays, train
from ganengine.augment import diff_augment
from ganengine.checkpoint import load_file
from ganengine.cli import main
from ganengine.images import grid, to_uint8
from ganengine.unconditional import generate, load_generator

UNCONDITIONAL = families.get("unconditional")


def _colour(rng: np.random.Generator, shape=(40, 50)) -> np.ndarray:
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    pixels[..., 0] //= 2  # unequal channels: a colour image
    return pixels


def _folder(path: Path, colour: int, grey: int) -> Path:
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(colour):
        Image.fromarray(_colour(rng)).save(path / f"c{i}.png")
    for i in range(grey):
        Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(path / f"g{i}.png")
    return path


def test_a_folder_with_any_colour_image_loads_as_rgb_and_its_grey_images_as_equal_channels(
    tmp_path: Path,
) -> None:
    images = load_folder(_folder(tmp_path / "mixed", colour=1, grey=2), 32)
    assert images.shape == (3, 3, 32, 32)
    colour, *greys = images
    assert not torch.equal(colour[0], colour[1])
    for grey in greys:
        assert torch.equal(grey[0], grey[1]) and torch.equal(grey[0], grey[2])
    # Each grey image is the one-channel tensor it loads as in an all-grey folder.
    (tmp_path / "mixed" / "c0.png").unlink()
    assert torch.equal(load_folder(tmp_path / "mixed", 32), images[1:, :1])


def test_rgb_files_with_equal_channels_are_grey(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    grey = np.random.default_rng(1).integers(0, 256, (30, 30), dtype=np.uint8)
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(folder / "a.png")
    Image.fromarray(grey).convert("P").save(folder / "b.png")  # a palette of greys
    images = load_folder(folder, 32)
    assert images.shape == (2, 1, 32, 32)
    assert torch.equal(images[0], images[1])
    assert torch.equal(images[0], prepare_arrays([grey], 32)[0])


def test_channels_can_be_forced_either_way(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "data", colour=2, grey=1)
    as_grey = load_folder(folder, 32, channels=1)
    assert as_grey.shape == (3, 1, 32, 32)
    # The colour images become their luma, as Pillow's "L" computes it.
    pixels = np.asarray(Image.open(folder / "c0.png").convert("L"))
    assert torch.equal(as_grey[0], prepare_arrays([pixels], 32)[0])
    as_rgb = load_folder(_folder(tmp_path / "grey", colour=0, grey=2), 32, channels=3)
    assert as_rgb.shape == (2, 3, 32, 32) and torch.equal(as_rgb[:, 0], as_rgb[:, 2])
    with pytest.raises(DataError, match="channels must be 1 .* or 3"):
        load_folder(folder, 32, channels=2)


def test_prepare_arrays_takes_rgb_and_names_a_bad_array() -> None:
    rng = np.random.default_rng(2)
    rgb = _colour(rng, (24, 40))
    (image,) = prepare_arrays([rgb], 16)
    assert image.shape == (3, 16, 16) and image.min() >= -1 and image.max() <= 1
    # Channel order is kept: red was halved, so it is the darkest channel.
    assert image[0].mean() < image[1].mean() and image[0].mean() < image[2].mean()
    with pytest.raises(DataError, match=r"Array 1 .* expected uint8 H x W or H x W x 3"):
        prepare_arrays([rgb, np.zeros((8, 8, 4), np.uint8)], 16)


def test_to_uint8_and_grid_keep_rgb() -> None:
    batch = torch.rand(5, 3, 8, 8) * 2 - 1
    pixels = to_uint8(batch)
    assert pixels.shape == (5, 8, 8, 3)
    assert np.array_equal(pixels[2, :, :, 1], to_uint8(batch[2:3, 1:2])[0])
    canvas = grid(pixels)
    assert canvas.shape == (2 * 10 + 2, 3 * 10 + 2, 3)  # 5 tiles: 2 rows of 3
    assert np.array_equal(canvas[2:10, 12:20], pixels[1])


def test_augmentations_move_the_channels_of_an_image_together() -> None:
    # Each channel of an augmented RGB image is what the same draws do to that channel alone: one
    # shift, one cut-out and one brightness change per image, not per channel.
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    ops = ["translation", "cutout", "brightness"]
    rgb = diff_augment(x, ops, torch.Generator().manual_seed(5))
    for channel in range(3):
        alone = diff_augment(x[:, channel : channel + 1], ops, torch.Generator().manual_seed(5))
        assert torch.equal(rgb[:, channel : channel + 1], alone)
    assert not torch.equal(rgb, x)


def test_the_cli_trains_on_colour_images_in_rgb_and_generates_rgb_pngs(tmp_path: Path) -> None:
    data = _folder(tmp_path / "data", colour=3, grey=1)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--preset", "tiny",
                 "--steps", "2", "--device", "cpu"]) == 0  # fmt: skip
    checkpoint = out / "checkpoint-latest.pt"
    assert json.loads(load_file(checkpoint)["config"])["channels"] == 3
    samples = Image.open(next(out.glob("samples-*.png")))
    assert samples.mode == "RGB"

    images = generate(checkpoint, 3, seed=4, device="cpu")
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    pngs = tmp_path / "png"
    assert main(["generate", "--checkpoint", str(checkpoint), "--count", "2", "--seed", "5",
                 "--out", str(pngs), "--device", "cpu"]) == 0  # fmt: skip
    written = Image.open(pngs / "seed000005.png")
    assert written.mode == "RGB" and np.array_equal(np.asarray(written), images[1])


def test_the_channels_flag_overrides_the_data(tmp_path: Path) -> None:
    data = _folder(tmp_path / "data", colour=2, grey=0)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--preset", "tiny",
                 "--steps", "1", "--channels", "1", "--device", "cpu"]) == 0  # fmt: skip
    _, config = load_generator(out / "checkpoint-latest.pt", "cpu")
    assert config.channels == 1
    assert generate(out / "checkpoint-latest.pt", 1, device="cpu").shape == (1, 32, 32)


def test_a_grey_folder_trains_a_grey_generator(tmp_path: Path) -> None:
    data = _folder(tmp_path / "data", colour=0, grey=2)
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(out), "--preset", "tiny",
                 "--steps", "1", "--device", "cpu"]) == 0  # fmt: skip
    assert json.loads(load_file(out / "checkpoint-latest.pt")["config"])["channels"] == 1
    assert Image.open(next(out.glob("samples-*.png"))).mode == "L"


def test_fastgan_trains_and_generates_rgb(tmp_path: Path, fastgan_config) -> None:
    config = dataclasses.replace(fastgan_config, steps=2, channels=3)
    data = torch.rand(6, 3, 64, 64) * 2 - 1
    result = train(UNCONDITIONAL, config, data, tmp_path)
    images = generate(result.checkpoint_path, 2, device="cpu")
    assert images.shape == (2, 64, 64, 3)


def test_images_whose_channels_differ_from_the_configs_are_refused(tmp_path, tiny_config) -> None:
    with pytest.raises(ValueError, match=r"images must be \[N, 1, 32, 32\].*channels 1"):
        train(UNCONDITIONAL, tiny_config, torch.zeros(4, 3, 32, 32), tmp_path)


def test_a_checkpoint_without_channels_is_a_grey_one(tmp_path: Path, checkpoint: Path) -> None:
    # As every checkpoint written before channels existed (the shipped generator's among them).
    state = torch.load(checkpoint, weights_only=True)
    config = json.loads(state["config"])
    del config["channels"]
    state["config"] = json.dumps(config)
    old = tmp_path / "old.pt"
    torch.save(state, old)
    _, loaded = load_generator(old, "cpu")
    assert loaded.channels == 1
    assert np.array_equal(generate(old, 4, device="cpu"), generate(checkpoint, 4, device="cpu"))


def test_the_mask_to_image_family_refuses_colour_images_with_its_reason(
    tmp_path: Path, capsys
) -> None:
    data = _folder(tmp_path / "data", colour=1, grey=1)
    with pytest.raises(SystemExit) as exit_info:
        main(["train-cyclegan", "--data", str(data), "--out", str(tmp_path / "run"),
              "--preset", "tiny", "--masks", "2"])  # fmt: skip
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"{data} holds colour images" in err and "grey images only" in err
    assert not (tmp_path / "run").exists()
