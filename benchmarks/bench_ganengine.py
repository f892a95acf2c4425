"""Throughput of ganengine's training step and generator on the current device.

    python -m benchmarks.bench_ganengine                       # CUDA: fastgan 256 + 512, dcgan 64
    python -m benchmarks.bench_ganengine --device cpu               # fastgan 128 (cpu-128) + 64
    python -m benchmarks.bench_ganengine --device cpu --threads 1,2 --runs fastgan:128

For every model:resolution it times the same networks in one process, first "fp32 eager" (every
speed setting off: the baseline), then each speed setting alone and all together ("fast", the
preset's path: on CUDA bf16 autocast, channels_last, torch.compile and fused Adam; on the CPU
bf16 autocast where the CPU has native bf16, and channels_last). Per row: training images/s and
its ratio to the baseline row, peak GPU memory (CUDA), FLOPs per training step counted with
torch.utils.flop_counter (the eager step), the share of the device's peak dense bf16 FLOP/s that
the step reaches, and generator images/s at batch 64. --threads repeats every row per torch
thread count. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ganengine import families
from ganengine.device import pick_device
from ganengine.loop import advance, new_state
from ganengine.unconditional import PRESETS, UnconditionalConfig
from ganengine.unconditional.generation import image_latents
from ganengine.unconditional.steps import bf16_supported

# Dense bf16 tensor-core peaks (no sparsity), TFLOP/s, by a substring of the device name.
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L4": 121.0}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", help="model:resolution,... (default depends on the device)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="widths and batch size")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per row")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps (compilation)")
    parser.add_argument("--generate-batches", type=int, default=10, help="timed batches of 64")
    parser.add_argument("--device", help="default: CUDA if available")
    parser.add_argument("--threads", help="torch CPU thread counts, e.g. 1,2 (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, help="device peak bf16 TFLOP/s")
    args = parser.parse_args()
    device = pick_device(args.device)
    cuda = device.type == "cuda"
    preset = PRESETS[args.preset or ("gpu-256" if cuda else "cpu-128")]
    runs = args.runs or ("fastgan:256,fastgan:512,dcgan:64" if cuda else "fastgan:128,fastgan:64")
    thread_counts = [int(n) for n in args.threads.split(",")] if args.threads else [None]
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    peak = args.peak_tflops or _peak_tflops(name)
    print(f"device {device} ({name}), torch {torch.__version__}")
    print(f"peak bf16: {f'{peak:.0f} TFLOP/s' if peak else 'unknown (pass --peak-tflops)'}")
    if not cuda:
        print(f"native bf16 on this CPU: {bf16_supported(device)}")
    print(
        f"{'model':>8} {'res':>4} {'batch':>5} {'thr':>3} {'path':>13} {'train img/s':>11}"
        f" {'x eager':>7} {'GFLOP/step':>10} {'TFLOP/s':>8} {'of peak':>7} {'GPU MiB':>8}"
        f" {'gen img/s':>9}"
    )
    for run in runs.split(","):
        model, resolution = run.split(":")
        fast = dataclasses.replace(
            preset,
            model=model,
            resolution=int(resolution),
            batch_size=args.batch_size or preset.batch_size,
            r1_gamma=0.0,
        ).validate()
        eager = dataclasses.replace(fast, precision="fp32", channels_last=False, compile=False)
        paths = [
            ("fp32 eager", eager),
            ("bf16", dataclasses.replace(eager, precision="bf16")),
            ("channels_last", dataclasses.replace(eager, channels_last=True)),
            *([("compile", dataclasses.replace(eager, compile=True))] if cuda else []),
            ("fast", dataclasses.replace(fast, precision="bf16", channels_last=True)),
        ]
        flops = _flops_per_step(eager, device)
        for threads in thread_counts:
            if threads:
                torch.set_num_threads(threads)
            baseline = None
            for label, config in paths:
                speed = _row(label, config, device, flops, peak, args, baseline)
                baseline = baseline or speed


def _row(
    label: str,
    config: UnconditionalConfig,
    device: torch.device,
    flops: int,
    peak: float | None,
    args: argparse.Namespace,
    baseline: float | None,
) -> float:
    cuda = device.type == "cuda"
    family = families.get("unconditional")
    state = new_state(family, config, device)
    images = family.prepare(_random_images(256, config), config, device)
    for _ in range(args.warmup):
        advance(family, state, images, config)
    _sync(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        advance(family, state, images, config)
    _sync(device)
    seconds = (time.perf_counter() - start) / args.steps
    memory = f"{torch.cuda.max_memory_allocated(device) / 2**20:8.0f}" if cuda else f"{'-':>8}"
    achieved = flops / seconds / 1e12
    share = f"{achieved / peak:7.1%}" if peak else f"{'-':>7}"
    generation = _generation(state, config, device, args.generate_batches)
    speed = config.batch_size / seconds
    ratio = speed / (baseline or speed)
    print(
        f"{config.model:>8} {config.resolution:>4} {config.batch_size:>5}"
        f" {torch.get_num_threads():>3} {label:>13} {speed:11.1f} {ratio:7.2f}"
        f" {flops / 1e9:10.1f} {achieved:8.2f} {share} {memory} {generation:9.1f}"
    )
    del state, images
    if cuda:
        torch.cuda.empty_cache()
    return speed


def _flops_per_step(config: UnconditionalConfig, device: torch.device) -> int:
    family = families.get("unconditional")
    state = new_state(family, config, device)
    images = family.prepare(_random_images(8, config), config, device)
    with FlopCounterMode(display=False) as counter:
        advance(family, state, images, config)
    return counter.get_total_flops()


def _generation(state, config: UnconditionalConfig, device: torch.device, batches: int) -> float:
    """EMA generator images/s at batch 64, on the training path (autocast, memory format)."""
    generator = state.generator_ema
    if device.type == "cuda" and config.compile:
        generator = torch.compile(generator)
    z = image_latents(range(64), config.latent_dim).to(device)
    with torch.inference_mode(), state.autocast():
        for _ in range(2):
            generator(z)
        _sync(device)
        start = time.perf_counter()
        for _ in range(batches):
            generator(z)
        _sync(device)
    return 64 * batches / (time.perf_counter() - start)


def _random_images(count: int, config: UnconditionalConfig) -> torch.Tensor:
    return torch.rand(count, 1, config.resolution, config.resolution) * 2 - 1


def _peak_tflops(device_name: str) -> float | None:
    for key, tflops in PEAK_BF16_TFLOPS.items():  # most specific keys first
        if key in device_name:
            return tflops
    return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
