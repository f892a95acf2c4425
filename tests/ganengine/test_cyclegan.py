import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganengine import DataError, Progress, families, train
from ganengine.cyclegan import (
    CYCLEGAN_PRESETS,
    CycleGANConfig,
    UnpairedData,
    aponeurosis_iou,
    generate_pairs,
    iou,
    segment,
)
from ganengine.cyclegan.cli import main
from ganengine.cyclegan.data import images_to_tensor, masks_to_tensor, tensor_to_labels
from ganengine.cyclegan.networks import (
    HistogramDiscriminator,
    PatchDiscriminator,
    ResnetGenerator,
    sorted_quantiles,
)
from ganengine.cyclegan.segmentation import long_bands
from ganengine.data import prepare_arrays
from ganengine.masks import generate_masks
from tests.ganengine.toy import band_images

MASK_TO_IMAGE = families.get("mask_to_image")

TINY = CycleGANConfig.preset("tiny", steps=4, progress_every=2, sample_every=4, checkpoint_every=2)


@pytest.fixture(scope="module")
def masks() -> torch.Tensor:
    return masks_to_tensor(generate_masks(16, 32, seed=0))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return band_images(16)


@pytest.fixture(scope="module")
def checkpoint(
    tmp_path_factory: pytest.TempPathFactory, images: torch.Tensor, masks: torch.Tensor
) -> Path:
    out = tmp_path_factory.mktemp("cyclegan")
    return train(MASK_TO_IMAGE, TINY, UnpairedData(images, masks), out).checkpoint_path


# --- configuration and networks ---------------------------------------------------------------


def test_presets_are_valid_and_round_trip_through_a_dict() -> None:
    for config in CYCLEGAN_PRESETS.values():
        assert CycleGANConfig.from_dict(config.validate().to_dict()) == config


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("resolution", 48, "resolution"),
        ("n_blocks", 0, "n_blocks"),
        ("lr", 0.0, "lr"),
        ("cycle_weight", -1.0, "cycle_weight"),
        ("pool_size", -1, "pool_size"),
        ("hist_bins", 1, "hist_bins"),
        ("lr_decay_start", -5, "lr_decay_start"),
    ],
)
def test_invalid_settings_are_rejected_by_name(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TINY, **{field: value}).validate()


def test_learning_rate_decays_linearly_to_zero_from_the_decay_start() -> None:
    config = CycleGANConfig(steps=100, lr=1.0, lr_decay_start=60)
    assert [config.lr_at(s) for s in (0, 60, 80, 100)] == [1.0, 1.0, 0.5, 0.0]
    assert dataclasses.replace(config, lr_decay_start=None).lr_at(99) == 1.0


def test_networks_keep_the_image_size_and_patchgan_judges_patches() -> None:
    x = torch.randn(3, 1, 64, 64)
    assert ResnetGenerator(8, 2)(x).shape == (3, 1, 64, 64)
    assert PatchDiscriminator(8)(x).shape == (3, 1, 6, 6)  # R/8 - 2 patches a side


def test_histogram_discriminator_scores_each_image_from_its_sorted_intensities() -> None:
    x = torch.randn(5, 1, 32, 32, requires_grad=True)
    quantiles = sorted_quantiles(x, 16)
    assert quantiles.shape == (5, 16)
    assert torch.all(quantiles[:, 1:] >= quantiles[:, :-1])
    assert torch.equal(quantiles[:, 0], x.detach().flatten(1).min(1).values)
    scores = HistogramDiscriminator(16)(x)
    assert scores.shape == (5,)
    scores.sum().backward()  # the sort passes gradients to the generator's pixels
    assert x.grad is not None and x.grad.abs().sum() > 0

    critic = HistogramDiscriminator(16)
    shuffled = x.detach().flatten(1)[:, torch.randperm(32 * 32)].view(5, 1, 32, 32)
    assert torch.equal(critic(shuffled), critic(x.detach()))  # it sees intensities, not layout


def test_label_maps_survive_the_mask_domain_round_trip() -> None:
    labels = generate_masks(3, 32, seed=0)
    x = masks_to_tensor(labels)
    assert x.shape == (3, 1, 32, 32) and set(x.unique().tolist()) == {-1.0, 0.0, 1.0}
    assert np.array_equal(tensor_to_labels(x + 0.3 * torch.rand_like(x) - 0.15), labels)


# --- training --------------------------------------------------------------------------------


def test_a_few_steps_train_with_finite_losses_and_report_sample_grids(
    tmp_path: Path, images: torch.Tensor, masks: torch.Tensor
) -> None:
    reports: list[Progress] = []
    result = train(
        MASK_TO_IMAGE, TINY, UnpairedData(images, masks), tmp_path, on_progress=reports.append
    )

    assert [r.step for r in reports] == [2, 4]
    assert set(reports[-1].losses) == {
        *{"g", "cycle", "hist", "d_image", "d_mask", "d_hist"},
        "identity",  # TINY keeps the default identity_weight 0.5
    }
    assert all(math.isfinite(v) for r in reports for v in r.losses.values())
    assert reports[0].samples is None
    assert reports[1].samples.shape == (4 * 34 + 2, 4 * 34 + 2)  # masks, G, real, F rows
    assert result.step == 4 and not result.cancelled
    assert result.checkpoint_path == tmp_path / "checkpoint-000004.pt"
    assert (tmp_path / "checkpoint-latest.pt").is_file()


def test_without_identity_loss_it_is_neither_computed_nor_reported(
    tmp_path: Path, images: torch.Tensor, masks: torch.Tensor
) -> None:
    config = dataclasses.replace(TINY, identity_weight=0.0, steps=2)
    result = train(MASK_TO_IMAGE, config, UnpairedData(images, masks), tmp_path)
    assert "identity" not in result.losses and math.isfinite(result.losses["cycle"])


def test_training_at_64_pixels_gives_finite_losses(tmp_path: Path) -> None:
    config = dataclasses.replace(TINY, resolution=64, steps=2, hist_bins=64)
    data = UnpairedData(band_images(4, 64), masks_to_tensor(generate_masks(4, 64)))
    result = train(MASK_TO_IMAGE, config, data, tmp_path)
    assert all(math.isfinite(v) for v in result.losses.values())


def test_inputs_of_the_wrong_shape_are_rejected(images: torch.Tensor, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="masks must be"):
        train(MASK_TO_IMAGE, TINY, UnpairedData(images, torch.zeros(2, 1, 64, 64)), tmp_path)


# --- generation, segmentation, IoU -----------------------------------------------------------


def test_generate_pairs_gives_each_image_with_its_mask_per_seed(checkpoint: Path) -> None:
    images, labels = generate_pairs(checkpoint, 3, seed=7, batch_size=2)
    assert images.shape == labels.shape == (3, 32, 32)
    assert images.dtype == labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert np.array_equal(labels, generate_masks(3, 32, seed=7))
    one_image, one_label = generate_pairs(checkpoint, 1, seed=9)
    assert np.array_equal(one_image[0], images[2]) and np.array_equal(one_label[0], labels[2])


def test_segment_returns_label_maps_for_uint8_or_float_images(checkpoint: Path) -> None:
    pixels = ((band_images(5)[:, 0] + 1) * 127.5).round().byte().numpy()  # uint8 [5, 32, 32]
    from_float = segment(checkpoint, images_to_tensor(pixels))
    from_uint8 = segment(checkpoint, pixels)
    assert from_float.shape == (5, 32, 32) and from_float.dtype == np.uint8
    assert set(np.unique(from_float)) <= {0, 1, 2}
    assert np.array_equal(from_float, from_uint8)
    with pytest.raises(ValueError, match="32"):
        segment(checkpoint, np.zeros((1, 64, 64), dtype=np.uint8))


def test_iou_is_one_for_identical_zero_for_disjoint_and_the_ratio_otherwise() -> None:
    a = np.zeros((4, 4), dtype=bool)
    a[:2] = True
    assert iou(a, a) == 1.0
    assert iou(a, ~a) == 0.0
    b = np.zeros((4, 4), dtype=bool)
    b[1:3] = True
    assert iou(a, b) == pytest.approx(4 / 12)
    assert iou(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_aponeurosis_iou_compares_only_images_with_masks(checkpoint: Path, tmp_path: Path) -> None:
    image_dir, mask_dir = tmp_path / "images", tmp_path / "masks"
    image_dir.mkdir(), mask_dir.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):  # 48 x 40 frames: centre-cropped to 40 x 40, like scanner frames
        Image.fromarray(rng.integers(0, 256, (40, 48), dtype=np.uint8)).save(image_dir / f"{i}.png")
    predicted = segment(checkpoint, np.stack([_square(image_dir / f"{i}.png") for i in range(2)]))
    for i in range(2):  # the masks are F's own answer, upscaled: IoU 1 if resized alike
        big = Image.fromarray(np.where(predicted[i] == 1, 255, 0).astype(np.uint8))
        big = np.asarray(big.resize((40, 40), Image.Resampling.NEAREST))
        Image.fromarray(np.pad(big, ((0, 0), (4, 4)))).save(mask_dir / f"{i}.png")

    result = aponeurosis_iou(checkpoint, image_dir, mask_dir)

    assert result.n == 2 and set(result.per_image) == {"0.png", "1.png"}
    assert 0.0 <= result.mean <= 1.0 and "N = 2" in str(result)
    with pytest.raises(DataError, match="have a mask"):
        aponeurosis_iou(checkpoint, image_dir, tmp_path)


def _square(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        x = prepare_arrays([np.asarray(img.convert("L"))], 32)
    return ((x[0, 0] + 1) * 127.5).round().byte().numpy()


# --- command line ----------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    try:
        code = main(list(args))
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_masks_writes_grey_level_pngs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _ = _run(capsys, "masks", "--count", "2", "--out", str(tmp_path), "--size", "48")
    assert code == 0
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["mask000000.png", "mask000001.png"]
    pixels = np.asarray(Image.open(files[1]))
    assert pixels.shape == (48, 48) and set(np.unique(pixels)) == {0, 128, 255}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["masks", "--count", "0", "--out", "x"], "--count must be at least 1"),
        (["masks", "--out", "x"], "give --count and --out"),
        (["masks", "--fit", "/nonexistent"], "does not exist"),
        (["train-cyclegan", "--data", "/nonexistent", "--out", "x", "--preset", "tiny"], "exist"),
        (["train-cyclegan", "--data", ".", "--out", "x", "--resolution", "48"], "resolution"),
        (
            ["generate-pairs", "--checkpoint", "/nonexistent.pt", "--count", "1", "--out", "x"],
            "exist",
        ),
        (["segment", "--checkpoint", "/nonexistent.pt", "--data", ".", "--out", "x"], "exist"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    code, output = _run(capsys, *args)
    assert code == 2
    assert message in output


def test_cli_trains_generates_pairs_and_segments_with_iou(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data, masks, run = tmp_path / "images", tmp_path / "manual", tmp_path / "run"
    data.mkdir(), masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(data / f"{i}.png")
    Image.fromarray(np.zeros((40, 50), dtype=np.uint8)).save(masks / "0.png")

    flags = ["--preset", "tiny", "--steps", "2", "--masks", "4"]
    code, output = _run(capsys, "train-cyclegan", "--data", str(data), "--out", str(run), *flags)
    assert code == 0 and "finished at step 2" in output
    checkpoint = str(run / "checkpoint-000002.pt")

    code, _ = _run(
        capsys,
        "generate-pairs",
        "--checkpoint",
        checkpoint,
        "--count",
        "2",
        "--out",
        str(tmp_path / "pairs"),
        "--seed",
        "5",
    )
    assert code == 0
    assert sorted(f.name for f in (tmp_path / "pairs").iterdir()) == [
        "seed000005-mask.png",
        "seed000005.png",
        "seed000006-mask.png",
        "seed000006.png",
    ]

    code, output = _run(
        capsys,
        "segment",
        "--checkpoint",
        checkpoint,
        "--data",
        str(data),
        "--out",
        str(tmp_path / "seg"),
        "--masks",
        str(masks),
    )
    assert code == 0 and "(N = 1)" in output
    assert len(list((tmp_path / "seg").iterdir())) == 3


def test_long_bands_drops_short_pieces_but_keeps_long_ones() -> None:
    binary = np.zeros((10, 20), dtype=bool)
    binary[2, 1:19] = True  # an aponeurosis-like band, 18 px of 20
    binary[6, 5:8] = True  # a short bright fascicle
    kept = long_bands(binary, 0.5)
    assert kept[2].sum() == 18 and not kept[6].any()
    assert np.array_equal(long_bands(binary, 0.0), binary)
