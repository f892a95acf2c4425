"""The demo generator that ships with the project, and its model card."""

import hashlib
import json

import numpy as np
import torch
from PIL import Image

from benchmarks.demo_generator import SHIPPED, _model_card
from ganengine import families
from ganengine.unconditional import generate, load_generator

CARD = json.loads((SHIPPED / "card.json").read_text())
GENERATOR = SHIPPED / CARD["generator"]["file"]


def test_the_shipped_generator_is_the_file_its_card_describes() -> None:
    data = GENERATOR.read_bytes()
    assert len(data) == CARD["generator"]["bytes"] <= 25 * 2**20
    assert hashlib.sha256(data).hexdigest() == CARD["generator"]["sha256"]
    generator, config = load_generator(GENERATOR, "cpu")
    # Written before configs had `channels` and `padding`: without them a config reads as grey
    # (1 channel) with zero padding, as the generator was then.
    assert "channels" not in CARD["generator"]["config"]
    assert config.to_dict() == {"padding": "zeros", **CARD["generator"]["config"], "channels": 1}
    assert families.of_checkpoint(GENERATOR).name == "unconditional"
    assert {p.dtype for p in generator.parameters()} == {torch.float32}  # widened from fp16


def test_it_generates_at_its_resolution_the_images_its_card_shows() -> None:
    side = CARD["generator"]["config"]["resolution"]
    images = generate(GENERATOR, 8, seed=0, device="cpu")
    assert images.shape == (8, side, side) and images.dtype == np.uint8
    shown = np.asarray(Image.open(SHIPPED / "samples.png"))[:side, : 8 * side]
    tiles = np.concatenate(list(images), axis=1)
    # The same seeds give the same images (up to the CPU's float rounding).
    assert np.abs(shown.astype(int) - tiles).mean() < 0.5


def test_the_model_card_is_the_scripts_rendering_of_its_figures() -> None:
    # MODEL_CARD.md is written by benchmarks/demo_generator.py from card.json, never by hand.
    assert (SHIPPED / "MODEL_CARD.md").read_text() == _model_card(CARD)
    split = CARD["data"]["split"]
    train = {entry["sha256"] for entry in split["train"]}
    held_out = {entry["sha256"] for entry in split["held_out"]}
    assert train and held_out and not train & held_out
    assert CARD["metrics"]["c2st"]["n_real"] == len(held_out)
    assert CARD["metrics"]["memorisation"]["n_training"] == len(train)


def test_the_card_covers_the_licence_of_its_data() -> None:
    assert CARD["data"]["licence"] == "Apache-2.0"
    assert "Cronin" in CARD["data"]["credit"]
    assert "Apache-2.0" in (SHIPPED / "MODEL_CARD.md").read_text()


def test_a_card_that_measured_border_lines_shows_them_beside_the_held_out_figure() -> None:
    measured = json.loads(json.dumps(CARD))
    measured["metrics"]["border_lines"] = {"generated": [2.97, 2.371], "held_out": [0.65, 0.42]}
    assert "| 2.97 / 2.37 | held-out: 0.65 / 0.42 |" in _model_card(measured)
    assert "border lines" not in _model_card(CARD)
