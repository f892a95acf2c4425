"""The demo generator that `make demo` serves: its data, its training, its export and its card.

    python -m benchmarks.demo_generator prepare      # crop and split ../shared/data/muscle-us
    python -m benchmarks.demo_generator train        # train or resume (--steps, --threads)
    python -m benchmarks.demo_generator export       # the EMA generator in fp16 -> pretrained/
    python -m benchmarks.demo_generator card         # held-out metrics -> card.json, MODEL_CARD.md
    python -m benchmarks.demo_generator scans        # source-frame hashes, near-duplicates -> card

Every image goes through the site's own ingest (the field-of-view crop) and then through the
panel renderer at the generator's side, so the generator learns exactly the pixels that a
study's real panels show. The split is the site's (Dataset.apply_split: a seeded ranking of the
canonical pixels' SHA-256, a quarter held out), so a dataset of these images split with the
default seed and share holds out exactly the images the generator never saw. `card` measures on
those held-out images only; every figure in MODEL_CARD.md comes from this script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import PIL.Image

from ganengine.loop import LATEST

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "muscle-us" / "images"
WORK = ROOT / "var" / "demo-generator"
SHIPPED = ROOT / "pretrained" / "muscle-us-fastgan-128"
PRESET = "cpu-128"
SPLIT_SEED, HELD_OUT_SHARE = 0, 0.25  # the Dataset model's defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("prepare", help="crop, render and split the images")
    train = commands.add_parser("train", help="train, resuming the latest checkpoint")
    train.add_argument("--steps", type=int, help="train up to this step (default: the preset's)")
    train.add_argument("--threads", type=int, help="torch CPU threads")
    train.add_argument("--device", help="default: CUDA if available")
    commands.add_parser("export", help="write the EMA generator in fp16 to " + str(SHIPPED))
    card = commands.add_parser("card", help="measure the shipped generator on held-out images")
    card.add_argument("--generated", type=int, default=400, help="generated images to compare")
    commands.add_parser("scans", help="record the listed images' source frames in card.json")
    args = parser.parse_args()
    steps = {
        "prepare": prepare,
        "train": train_run,
        "export": export,
        "card": write_card,
        "scans": record_scans,
    }
    steps[args.command](args)


# ------------------------------------------------------------------------------------ prepare


def prepare(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from quiz.imaging import pixel_sha256, render_panel
    from quiz.ingest.pipeline import IngestedImage, ingest_files
    from quiz.ingest.sources import Rejection, iter_folder
    from quiz.models import split_rank

    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is missing: the demo generator is trained on muscle-us")
    resolution = _preset().resolution
    names, hashes, squares, rejected = [], [], [], []
    for result in ingest_files(iter_folder(DATA)):
        if isinstance(result, Rejection):
            rejected.append(f"{result.source_name}: {result.reason}")
        if not isinstance(result, IngestedImage):
            continue
        digest = pixel_sha256(result.pixels)
        if digest in hashes:
            continue  # the site keeps one copy of identical pixels too
        names.append(result.source_name)
        hashes.append(digest)
        squares.append(render_panel(result.panel_pixels(), resolution))
    order = sorted(range(len(names)), key=lambda i: split_rank(SPLIT_SEED, hashes[i]))
    held_out = set(order[: round(len(order) * HELD_OUT_SHARE)])
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        WORK / "data.npz",
        images=np.stack(squares),
        names=np.array(names),
        sha256=np.array(hashes),
        held_out=np.array([i in held_out for i in range(len(names))]),
    )
    print(
        f"{len(names)} images at {resolution} px: {len(names) - len(held_out)} train, "
        f"{len(held_out)} held out; {len(rejected)} rejected by ingest"
    )
    for line in rejected:
        print("  rejected", line)


def _data() -> dict[str, np.ndarray]:
    path = WORK / "data.npz"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m benchmarks.demo_generator prepare`")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _preset():
    from ganengine.unconditional import PRESETS

    return PRESETS[PRESET]


# -------------------------------------------------------------------------------------- train


def train_run(args: argparse.Namespace) -> None:
    import dataclasses

    import torch

    import ganengine
    from ganengine import families

    if args.threads:
        torch.set_num_threads(args.threads)
    data = _data()
    images = ganengine.prepare_arrays(list(data["images"][~data["held_out"]]), _preset().resolution)
    config = _preset()
    if args.steps:
        config = dataclasses.replace(config, steps=args.steps)
    run = WORK / "run"
    latest = run / LATEST
    resume = latest if latest.exists() else None
    start_step = torch.load(latest, weights_only=True)["step"] if resume else 0
    print(f"training {len(images)} images from step {start_step} to {config.steps}")
    started, began = time.time(), time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def show(progress: ganengine.Progress) -> None:
        losses = " ".join(f"{k} {v:.3f}" for k, v in progress.losses.items())
        print(f"step {progress.step} {progress.images_per_second:.1f} img/s {losses}", flush=True)

    earlier = _sessions()

    def record(path: Path, step: int) -> None:
        # Rewritten at every checkpoint: the card's wall time and hardware come from this log,
        # and a session stopped at any moment is counted up to its last checkpoint.
        session = {
            "began": began,
            "seconds": round(time.time() - started, 1),
            "from_step": start_step,
            "to_step": step,
            "device": _hardware(args.device),
            "threads": torch.get_num_threads(),
        }
        (run / "sessions.json").write_text(json.dumps([*earlier, session], indent=1))

    family = families.get("unconditional")
    family.train(
        config,
        images,
        run,
        device=args.device,
        on_progress=show,
        on_checkpoint=record,
        resume_from=resume,
    )


def _sessions() -> list[dict]:
    path = WORK / "run" / "sessions.json"
    return json.loads(path.read_text()) if path.exists() else []


def _hardware(device: str | None) -> str:
    import torch

    if (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda"):
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu}, {os.cpu_count()} cores visible"


# ------------------------------------------------------------------------------------- export


def export(args: argparse.Namespace) -> None:
    from ganengine.unconditional import export_generator

    checkpoint = WORK / "run" / LATEST
    if not checkpoint.exists():
        raise SystemExit(
            f"{checkpoint} is missing: run `python -m benchmarks.demo_generator train`"
        )
    SHIPPED.mkdir(parents=True, exist_ok=True)
    out = export_generator(checkpoint, SHIPPED / "generator.pt")
    print(f"{out}: {out.stat().st_size / 2**20:.1f} MiB")


# --------------------------------------------------------------------------------------- card


def write_card(args: argparse.Namespace) -> None:
    """Measure the shipped generator on the held-out images; write card.json and MODEL_CARD.md."""
    import torch

    from ganengine.metrics import (
        classifier_two_sample_test,
        inception_features,
        kid,
        near_copies,
        nearest_training_images,
    )
    from ganengine.metrics.borders import border_lines
    from ganengine.metrics.spectrum import periodic_peaks
    from ganengine.unconditional import generate, load_generator

    generator_file = SHIPPED / "generator.pt"
    if not generator_file.exists():
        raise SystemExit(
            f"{generator_file} is missing: run `python -m benchmarks.demo_generator export`"
        )
    data = _data()
    train, held_out = data["images"][~data["held_out"]], data["images"][data["held_out"]]
    _, config = load_generator(generator_file, "cpu")
    step = torch.load(generator_file, weights_only=True)["step"]
    generated = generate(generator_file, args.generated, seed=0, device="cpu")
    started = time.perf_counter()

    # The C2ST compares equal numbers, so the classifier cannot win by guessing the majority.
    balanced = generated[: len(held_out)]
    c2st = classifier_two_sample_test(held_out, balanced, resolution=config.resolution)
    # Its noise floor: the same test between the two real parts, which no generator made.
    # A random draw of the train part: its first images by name all come from one scanner.
    draw = np.random.default_rng(0).choice(len(train), size=len(held_out), replace=False)
    floor = classifier_two_sample_test(held_out, train[draw], resolution=config.resolution)
    features = inception_features(np.concatenate([held_out, generated, train]))
    real_f = features[: len(held_out)]
    fake_f = features[len(held_out) : len(held_out) + len(generated)]
    train_f = features[len(held_out) + len(generated) :]
    size = min(len(real_f), len(fake_f))
    kid_generated = kid(real_f, fake_f, subset_size=size)
    kid_train = kid(real_f, train_f, subset_size=size)
    matches = nearest_training_images(generated, train)
    ratios = np.array([m.ratio for m in matches])
    relative = np.array([m.relative_distance for m in matches])
    held_out_matches = nearest_training_images(held_out, train)
    # Sessions up to the exported step (a session counts up to its last checkpoint).
    sessions = [s for s in _sessions() if s["from_step"] < step]

    card = {
        "generator": {
            "file": generator_file.name,
            "sha256": _sha256_file(generator_file),
            "bytes": generator_file.stat().st_size,
            "weights": "EMA generator, fp16",
            "family": "unconditional",
            "config": config.to_dict(),
            "step": step,
        },
        "data": {
            "source": "njcronin/DL_Track (apo_images, fasc_images_S), ../shared/data/muscle-us",
            "licence": "Apache-2.0",
            "credit": "Neil J. Cronin and co-authors, 'A deep learning approach for analysing "
            "muscle architecture from musculoskeletal ultrasound images', arXiv:2009.04790",
            "preprocessing": "the site's ingest (field-of-view crop), then its panel renderer: "
            f"centre square, area-averaged to {config.resolution} px",
            "split": {
                "rule": "quiz.models.split_rank: SHA-256 of f'{seed}:{pixel sha256}', the "
                "first held_out_share of the ranking held out (Dataset.apply_split)",
                "seed": SPLIT_SEED,
                "held_out_share": HELD_OUT_SHARE,
                "train": _listing(data, ~data["held_out"]),
                "held_out": _listing(data, data["held_out"]),
            },
        },
        "training": {
            "steps": step,
            "wall_seconds": round(sum(s["seconds"] for s in sessions)),
            "sessions": sessions,
            "torch": torch.__version__,
        },
        "metrics": {
            "against": f"{len(held_out)} held-out real images, never trained on",
            "kid": asdict_of(kid_generated),
            "kid_train_vs_held_out": asdict_of(kid_train),
            "c2st": asdict_of(c2st) | {"resolution": config.resolution},
            "c2st_train_vs_held_out": asdict_of(floor) | {"resolution": config.resolution},
            "memorisation": {
                "n_generated": len(matches),
                "n_training": len(train),
                "near_copies": len(near_copies(matches)),
                "median_ratio": float(np.median(ratios)),
                "min_ratio": float(ratios.min()),
                "min_relative_distance": float(relative.min()),
                "held_out_median_ratio": float(np.median([m.ratio for m in held_out_matches])),
            },
            "periodic_peaks": {
                "generated": _rounded(periodic_peaks(generated)),
                "held_out": _rounded(periodic_peaks(held_out)),
            },
            "border_lines": {
                "generated": [round(v, 3) for v in border_lines(generated)],
                "held_out": [round(v, 3) for v in border_lines(held_out)],
            },
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    rows = [np.concatenate(list(generated[i * 8 : (i + 1) * 8]), axis=1) for i in range(4)]
    PIL.Image.fromarray(np.concatenate(rows)).save(SHIPPED / "samples.png", optimize=True)
    (SHIPPED / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (SHIPPED / "MODEL_CARD.md").write_text(_model_card(card))
    print((SHIPPED / "MODEL_CARD.md").read_text())


def asdict_of(result) -> dict:
    import dataclasses

    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(result).items()
    }


def _rounded(peaks: dict[int, float]) -> dict[str, float]:
    return {str(period): round(value, 3) for period, value in peaks.items()}


def record_scans(args: argparse.Namespace) -> None:
    """Add to card.json each listed image's source-frame hash, and mark held-out near-duplicates.

    The card's pixel hashes name the crops the generator was trained on; when ingest crops an
    image differently later, its source frame still names the scan (the held-out rule checks
    both). A held-out image within the site's near-duplicate distance of a training image
    (quiz.ingest.near_duplicates) is marked, and `make demo` never imports it as a real panel.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from quiz.imaging import pixel_sha256
    from quiz.ingest.near_duplicates import SignatureIndex, signature
    from quiz.ingest.pipeline import IngestedImage, ingest_files

    card_file = SHIPPED / "card.json"
    card = json.loads(card_file.read_text(encoding="utf-8"))
    split = card["data"]["split"]
    entries = {entry["file"]: entry for part in ("train", "held_out") for entry in split[part]}
    signatures = {}
    files = ((name, (DATA / name).read_bytes()) for name in entries)
    for result in ingest_files(files):
        if isinstance(result, IngestedImage):
            entries[result.source_name]["source_sha256"] = pixel_sha256(result.source)
            signatures[result.source_name] = signature(result.panel_pixels())
    trained = SignatureIndex((e["file"], signatures[e["file"]]) for e in split["train"])
    marked = 0
    for entry in split["held_out"]:
        match = trained.near_duplicate(signatures[entry["file"]])
        entry.pop("near_duplicate_of", None)
        if match is not None:
            entry["near_duplicate_of"] = match.name
            marked += 1
    card_file.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    print(
        f"{len(signatures)} of {len(entries)} listed images ingested; {marked} of "
        f"{len(split['held_out'])} held-out images are near-duplicates of a training image"
    )


def _listing(data: dict[str, np.ndarray], which: np.ndarray) -> list[dict[str, str]]:
    return [
        {"file": str(name), "sha256": str(digest)}
        for name, digest in zip(data["names"][which], data["sha256"][which], strict=True)
    ]


def _model_card(card: dict) -> str:
    g, d, t, m = card["generator"], card["data"], card["training"], card["metrics"]
    hours = t["wall_seconds"] / 3600
    session_steps = sum(s["to_step"] - s["from_step"] for s in t["sessions"])
    hardware = sorted({s["device"] for s in t["sessions"]})
    return f"""# Model card: muscle-us FastGAN, {g["config"]["resolution"]} px

The generator that `make demo` serves (`{g["file"]}`, {g["bytes"] / 2**20:.1f} MiB, {g["weights"]},
sha256 `{g["sha256"][:16]}…`). Every figure below is written by
`python -m benchmarks.demo_generator card`; rerun it to check them.

## Data
- **Source:** {d["source"]}. **Licence:** {d["licence"]}. **Credit:** {d["credit"]}.
- **Preprocessing:** {d["preprocessing"]}.
- **Split:** {len(d["split"]["train"])} images trained on, {len(d["split"]["held_out"])} held out
  (seed {d["split"]["seed"]}, share {d["split"]["held_out_share"]}; rule: {d["split"]["rule"]}).
  `card.json` lists both parts by file name and canonical-pixel SHA-256; a demo dataset split with
  the site's defaults holds out the same images, and `build_demo` refuses a real panel whose
  pixels are in the train list.

## Training
- FastGAN (ganengine `unconditional` family, preset `{PRESET}`): {t["steps"]:,} steps of batch
  {g["config"]["batch_size"]}, {g["config"]["base_channels"]} base channels, latent
  {g["config"]["latent_dim"]}, DiffAugment `{g["config"]["augment"]}`.
- **Wall time:** {hours:.1f} h over {len(t["sessions"])} session(s) ({session_steps:,} steps
  logged), resumed from checkpoints; the machine was shared with other work meanwhile.
- **Hardware:** {"; ".join(hardware)}. torch {t["torch"]}.

![32 generated images, seeds 0 to 31](samples.png)

## Metrics on the held-out images ({m["against"]})
{_metrics_table(m)}

{_c2st_reading(m["c2st"])}

## Intended use
A demonstration of the site's quiz: synthetic panels for a study that a newcomer can run in a
minute. Not for clinical use, and not a measure of what a GPU-trained generator reaches.
"""


def _c2st_reading(c: dict) -> str:
    if not c.get("observers"):  # a card measured before C2ST had a second observer
        return (
            "C2ST AUC 0.5 means the classifier cannot tell generated from real images; the floor "
            "column is the same test between two sets of real images. This card was measured "
            "with one observer, a CNN; the card step now reports the highest of two observers "
            "(a deeper CNN and a spectrum model), and the card is measured again with them when "
            "the generator is retrained."
        )
    return (
        "C2ST AUC 0.5 means the observers cannot tell generated from real images; the headline "
        "is the highest of the observers' AUCs (each one's own figure below it), so it is "
        "slightly biased upward when none can tell: the floor column is the same test between "
        "two sets of real images. The goal for this demo is AUC ≤ 0.80 with these observers."
    )


def _metrics_table(m: dict) -> str:
    c, floor, k, k_floor = (
        m["c2st"],
        m["c2st_train_vs_held_out"],
        m["kid"],
        m["kid_train_vs_held_out"],
    )
    mem, peaks = m["memorisation"], m["periodic_peaks"]

    def auc(r: dict) -> str:
        return f"{r['auc']:.3f} [{r['auc_ci'][0]:.3f}, {r['auc_ci'][1]:.3f}]"

    def kid_text(r: dict) -> str:
        return f"{r['kid'] * 1000:.2f} ± {r['kid_std'] * 1000:.2f}"

    def peak_text(p: dict) -> str:
        return " / ".join(f"{v:.2f}" for v in p.values())

    observers = {
        "cnn": "CNN, 4 conv blocks, early stopping (epochs used per fold)",
        "spectrum": "logistic regression on the log radial power spectrum",
    }

    def used(r: dict, name: str) -> str:
        epochs = r["observers"][name]["epochs"]
        return f" ({', '.join(map(str, epochs))})" if epochs else ""

    rows = [
        ("figure", "generated", "train part vs held-out (floor)"),
        ("---", "---", "---"),
        (
            f"C2ST ROC AUC [95 % CI], the highest of {len(c['observers'])} observers trained "
            f"from scratch ({c['folds']}-fold at {c['resolution']} px, "
            f"N = {c['n_real']} real + {c['n_fake']})",
            f"**{auc(c)}** ({c['observer']})",
            f"{auc(floor)} ({floor['observer']})",
        )
        if c.get("observers")
        else (
            f"C2ST ROC AUC [95 % CI] ({c['folds']}-fold CNN at {c['resolution']} px, "
            f"N = {c['n_real']} real + {c['n_fake']})",
            f"**{auc(c)}**",
            auc(floor),
        ),
        *(
            (
                f"– {observers.get(name, name)}",
                auc(r) + used(c, name),
                auc(floor_r) + used(floor, name),
            )
            for name, r in c.get("observers", {}).items()
            for floor_r in [floor["observers"][name]]
        ),
        (
            f"KID × 1000 ± s.d. (Inception; {k['n_real']} real, {k['n_fake']} generated, "
            f"subsets of {k['subset_size']})",
            kid_text(k),
            kid_text(k_floor),
        ),
        (
            f"memorisation: median nearest / second-nearest ratio ({mem['n_generated']} "
            f"generated against {mem['n_training']} training images)",
            f"{mem['median_ratio']:.3f} (min {mem['min_ratio']:.3f})",
            f"held-out images: {mem['held_out_median_ratio']:.3f}",
        ),
        ("near-copies (ratio or relative distance < 1/3)", str(mem["near_copies"]), ""),
        (
            "periodic spectral peaks, period 2 / 4 / 8 (1 = none)",
            peak_text(peaks["generated"]),
            f"held-out: {peak_text(peaks['held_out'])}",
        ),
    ]
    if "border_lines" in m:  # cards measured before the card step had it have no such row
        lines = m["border_lines"]
        rows.append(
            (
                "border lines: step from the outermost / second row or column inward, over the "
                "mean step (about the held-out figure: no line)",
                " / ".join(f"{v:.2f}" for v in lines["generated"]),
                "held-out: " + " / ".join(f"{v:.2f}" for v in lines["held_out"]),
            )
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    main()
