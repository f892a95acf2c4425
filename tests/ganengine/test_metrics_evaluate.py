import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganengine import families, train
from ganengine.cyclegan import CycleGANConfig, UnpairedData, generate_pairs, training_masks
from ganengine.images import to_uint8
from ganengine.metrics import evaluate
from ganengine.metrics.cli import add_subcommand
from ganengine.metrics.inception import _fid_inception3

MASK_TO_IMAGE = families.get("mask_to_image")


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inception") / "random.pth"
    torch.save(_fid_inception3().state_dict(), path)
    return path


def _run(*args: str) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganengine")
    add_subcommand(parser.add_subparsers(required=True))
    parsed = parser.parse_args(["evaluate", *args])
    return parsed.handler(parsed)


def _save_folder(images: np.ndarray, folder: Path) -> Path:
    from PIL import Image

    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    return folder


def test_a_checkpoint_gets_a_json_report_of_every_metric_with_its_counts(
    checkpoint: Path, band_data: torch.Tensor, random_weights: Path
) -> None:
    report = evaluate(
        checkpoint,
        band_data[:12],  # as load_folder returns it: [N, 1, R, R] in [-1, 1]
        count=6,
        seed=3,
        inception_weights=random_weights,
        kid_subsets=4,
        c2st_folds=2,
        c2st_epochs=1,
    )
    json.dumps(report)  # serialisable as it is
    assert (report["n_generated"], report["n_real"], report["n_training"]) == (6, 12, 12)
    assert report["generated"] == {
        "checkpoint": str(checkpoint),
        "family": "unconditional",
        "seed": 3,
    }
    assert report["real"] == "training images"
    assert (report["kid"]["n_real"], report["kid"]["n_fake"]) == (12, 6)
    assert (report["fid"]["n_real"], report["fid"]["n_fake"]) == (12, 6)
    assert (report["c2st"]["n_real"], report["c2st"]["n_fake"]) == (12, 6)
    assert (
        0
        <= report["c2st"]["auc_ci"][0]
        <= report["c2st"]["auc"]
        <= report["c2st"]["auc_ci"][1]
        <= 1
    )
    assert report["c2st"]["resolution"] == 32  # the images' own side, not shrunk further
    assert [m["index"] for m in report["memorisation"]["matches"]] == list(range(6))


def test_generated_copies_of_training_images_are_reported_as_near_copies(
    band_data: torch.Tensor,
) -> None:
    training = to_uint8(band_data[:20])
    generated = np.concatenate([training[[4, 9]], to_uint8(band_data[40:44])])
    report = evaluate(generated, training, count=6, metrics=["memorisation"])
    assert report["generated"] == {"source": "images"}
    matches = report["memorisation"]["matches"]
    assert [(m["nearest_index"], m["ratio"]) for m in matches[:2]] == [(4, 0.0), (9, 0.0)]
    assert {0, 1} <= set(report["memorisation"]["near_copies"])
    assert set(report) >= {"n_generated", "n_real", "memorisation"}
    assert "kid" not in report


def test_held_out_real_images_are_used_for_the_comparison(band_data: torch.Tensor) -> None:
    images = to_uint8(band_data)
    options = {"metrics": ["c2st"], "c2st_folds": 2, "c2st_epochs": 1}
    report = evaluate(images[:10], images[10:30], count=10, real_images=images[30:45], **options)
    assert (report["n_real"], report["n_training"], report["real"]) == (15, 20, "held-out images")
    assert report["c2st"]["n_real"] == 15


def test_unknown_metrics_and_too_few_images_are_rejected(band_data: torch.Tensor) -> None:
    images = to_uint8(band_data[:8])
    with pytest.raises(ValueError, match="Unknown metrics"):
        evaluate(images, images, count=4, metrics=["is"])
    with pytest.raises(ValueError, match="only 8 images given"):
        evaluate(images, images, count=9)


@pytest.fixture(scope="module")
def cyclegan_checkpoint(tmp_path_factory: pytest.TempPathFactory, band_data: torch.Tensor) -> Path:
    config = CycleGANConfig.preset("tiny", steps=2)
    masks = training_masks(config.resolution, seed=0, count=8)
    out = tmp_path_factory.mktemp("cyclegan")
    return train(MASK_TO_IMAGE, config, UnpairedData(band_data[:8], masks), out).checkpoint_path


def test_a_mask_to_image_checkpoint_is_judged_on_its_images_of_the_seeds_masks(
    cyclegan_checkpoint: Path, band_data: torch.Tensor
) -> None:
    options = {"count": 5, "metrics": ["memorisation"]}
    report = evaluate(cyclegan_checkpoint, band_data[:12], seed=7, **options)
    assert report["generated"]["family"] == "mask_to_image"
    assert report["resolution"] == [32, 32]
    # The images judged are G's images of masks 7..11, the pairs generate_pairs would store.
    images, _ = generate_pairs(cyclegan_checkpoint, 5, seed=7)
    direct = evaluate(images, band_data[:12], **options)
    assert report["memorisation"]["matches"] == direct["memorisation"]["matches"]


def test_the_command_writes_a_report(
    checkpoint: Path, band_data: torch.Tensor, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = _save_folder(to_uint8(band_data[:10]), tmp_path / "data")
    out = tmp_path / "reports" / "report.json"
    args = ["--checkpoint", str(checkpoint), "--data", str(data), "--count", "4", "--seed", "2"]
    args += ["--metrics", "c2st,memorisation", "--folds", "2", "--epochs", "1", "--out", str(out)]
    code = _run(*args)
    assert code == 0
    report = json.loads(out.read_text())
    assert (report["n_generated"], report["n_training"]) == (4, 10)
    assert len(report["memorisation"]["matches"]) == 4
    assert "C2ST AUC" in capsys.readouterr().out
    assert report["resolution"] == [32, 32]  # the checkpoint's, which the data was loaded at


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "1"], "--count must be at least 5"),
        (["--count", "1", "--metrics", "memorisation"], "--count must be at least 2"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--metrics", "kid,is"], "choose from kid,fid,c2st,memorisation"),
        (["--folds", "1"], "--folds must be at least 2"),
    ],
)
def test_the_command_rejects_bad_settings(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run("--checkpoint", str(checkpoint), "--data", str(tmp_path), *args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_command_evaluates_a_mask_to_image_checkpoint_and_rejects_other_files(
    cyclegan_checkpoint: Path, band_data: torch.Tensor, tmp_path: Path, capsys
) -> None:
    data = _save_folder(to_uint8(band_data[:10]), tmp_path / "data")
    out = tmp_path / "report.json"
    args = ["--data", str(data), "--count", "4", "--metrics", "memorisation", "--out", str(out)]
    assert _run("--checkpoint", str(cyclegan_checkpoint), *args) == 0
    assert json.loads(out.read_text())["generated"]["family"] == "mask_to_image"

    stranger = tmp_path / "stranger.pt"
    torch.save({"format": "someone-else", "weights": torch.zeros(2)}, stranger)
    with pytest.raises(SystemExit) as exit_info:
        _run("--checkpoint", str(stranger), *args)
    assert exit_info.value.code == 2
    assert "stranger.pt is not a ganengine checkpoint" in capsys.readouterr().err


def test_the_command_reports_a_missing_checkpoint_and_an_empty_folder(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run("--checkpoint", str(tmp_path / "nope.pt"), "--data", str(tmp_path))
    assert exit_info.value.code == 2
    assert "nope.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        _run("--checkpoint", str(checkpoint), "--data", str(tmp_path))
    assert exit_info.value.code == 2
    assert "has no images" in capsys.readouterr().err


def test_the_summary_gives_no_kid_spread_when_each_subset_is_a_whole_set() -> None:
    from ganengine.metrics.cli import _summary

    kid = {"kid": 0.1, "kid_std": 0.0, "n_real": 200, "n_fake": 200, "subsets": 100}
    whole = _summary({"n_generated": 200, "n_real": 200, "kid": {**kid, "subset_size": 200}})
    assert "no spread" in whole and "±" not in whole
    part = _summary({"n_generated": 200, "n_real": 200, "kid": {**kid, "subset_size": 100}})
    assert "± 0.00000 (subsets of 100)" in part
