import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganengine import families
from ganengine.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see conftest: small nets, small shared CPU
    return subprocess.run(
        [sys.executable, "-m", "ganengine", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _exit_code_and_stderr(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


def _image_folder(path: Path, count: int = 4) -> Path:
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)).save(path / f"{i}.png")
    return path


def test_train_reports_a_missing_data_folder(tmp_path: Path, capsys) -> None:
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out")
    )
    assert code == 2
    assert f"{tmp_path / 'nope'} does not exist" in err


def test_train_reports_an_empty_data_folder(tmp_path: Path, capsys) -> None:
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(tmp_path), "--out", str(tmp_path / "out")
    )
    assert code == 2
    assert "has no images" in err


def test_train_rejects_a_resolution_that_is_not_a_power_of_two(tmp_path: Path, capsys) -> None:
    data = _image_folder(tmp_path / "data")
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(data), "--out", str(tmp_path / "out"), "--resolution", "48"
    )
    assert code == 2
    assert "resolution must be a power of two" in err


def test_generate_reports_a_corrupt_checkpoint(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    code, err = _exit_code_and_stderr(
        capsys, "generate", "--checkpoint", str(bad), "--count", "2", "--out", str(tmp_path)
    )
    assert code == 2
    assert "bad.pt is corrupt" in err


def test_generate_reports_a_missing_checkpoint(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "missing.pt"
    code, err = _exit_code_and_stderr(
        capsys, "generate", "--checkpoint", str(missing), "--count", "2", "--out", str(tmp_path)
    )
    assert code == 2
    assert "missing.pt does not exist" in err


def test_generate_rejects_an_unknown_device(checkpoint: Path, tmp_path: Path, capsys) -> None:
    code, err = _exit_code_and_stderr(
        capsys, "generate", "--checkpoint", str(checkpoint), "--count", "1",
        "--out", str(tmp_path), "--device", "abacus",
    )  # fmt: skip
    assert code == 2
    assert "abacus" in err


def test_errors_from_the_real_command_have_no_traceback(tmp_path: Path) -> None:
    run = _cli("train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert "does not exist" in run.stderr
    assert "Traceback" not in run.stderr


def test_train_then_generate_end_to_end(tmp_path: Path) -> None:
    data = _image_folder(tmp_path / "data")
    out = tmp_path / "run"
    trained = _cli(
        "train", "--data", str(data), "--out", str(out), "--preset", "tiny", "--steps", "20"
    )
    assert trained.returncode == 0, trained.stderr
    assert "step 20/20" in trained.stdout and "img/s" in trained.stdout and "ETA" in trained.stdout
    checkpoint = out / "checkpoint-000020.pt"
    assert checkpoint.is_file()
    assert (out / "samples-000020.png").is_file()  # the final sample grid

    resumed = _cli(
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--resume",
        str(checkpoint),
        "--steps",
        "30",
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "step 30/30" in resumed.stdout

    samples = tmp_path / "samples"
    generated = _cli(
        "generate", "--checkpoint", str(out / "checkpoint-000030.pt"), "--count", "3",
        "--out", str(samples), "--seed", "7",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    files = sorted(samples.iterdir())
    assert [f.name for f in files] == ["seed000007.png", "seed000008.png", "seed000009.png"]
    with Image.open(files[0]) as image:
        assert image.mode == "L" and image.size == (32, 32)


def test_train_reports_a_bad_config_file(tmp_path: Path, capsys) -> None:
    data = _image_folder(tmp_path / "data")
    config = tmp_path / "run.yaml"
    config.write_text("steps: 10\nlearning_rate: 0.1\n")
    code, err = _exit_code_and_stderr(
        capsys,
        "train",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--config",
        str(config),
    )
    assert code == 2
    assert f"Config file {config}: Unknown UnconditionalConfig key(s): learning_rate" in err


def test_train_takes_either_a_preset_or_a_config_file(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("preset: tiny\n")
    code, err = _exit_code_and_stderr(
        capsys, "train", "--data", str(tmp_path), "--out", str(tmp_path / "out"),
        "--preset", "tiny", "--config", str(config),
    )  # fmt: skip
    assert code == 2
    assert "not allowed with argument" in err


def test_train_with_a_config_file(tmp_path: Path) -> None:
    data = _image_folder(tmp_path / "data")
    config = tmp_path / "run.yaml"
    config.write_text("preset: tiny\nsteps: 4\nprogress_every: 2\nbase_channels: 4\n")
    out = tmp_path / "run"
    trained = _cli("train", "--data", str(data), "--out", str(out), "--config", str(config),
                   "--steps", "6")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "step 6/6" in trained.stdout
    saved = families.get("unconditional").load_checkpoint(out / "checkpoint-000006.pt")["config"]
    assert (saved.base_channels, saved.steps, saved.resolution) == (4, 6, 32)


def test_the_mask_and_evaluate_commands_are_reachable_from_the_main_cli(tmp_path, capsys):
    assert main(["masks", "--count", "3", "--size", "64", "--out", str(tmp_path / "m")]) == 0
    assert len(list((tmp_path / "m").glob("*.png"))) == 3
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--data", str(tmp_path)])
    assert exited.value.code == 2
    assert "does not exist" in capsys.readouterr().err


def test_ctrl_c_stops_training_with_a_checkpoint_and_a_clean_exit(tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "ganengine",
            "train",
            "--preset",
            "tiny",
            "--steps",
            "1000000",
            "--data",
            str(_image_folder(tmp_path / "data")),
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in process.stdout:  # wait until training is under way
            if line.startswith("step "):
                break
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "stopped at step" in output
    step = int(output.split("stopped at step ")[1].split(";")[0])
    assert 0 < step < 1_000_000
    saved = families.get("unconditional").load_checkpoint(out / f"checkpoint-{step:06d}.pt")
    assert saved["step"] == step
