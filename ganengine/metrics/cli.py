"""`python -m ganengine evaluate --checkpoint FILE --data DIR [--count N] [--out report.json]`.

`add_subcommand(subparsers)` registers the command on ganengine's parser. Bad input ends with
the subcommand's usage message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganengine.checkpoint import CheckpointError
from ganengine.data import DataError, load_folder
from ganengine.metrics.evaluate import METRICS, checkpoint_resolution, evaluate
from ganengine.metrics.inception import InceptionWeightsError


def add_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    e = subparsers.add_parser(
        "evaluate",
        help="KID/FID, classifier two-sample test and memorisation check of a checkpoint "
        "(either model family)",
    )
    e.add_argument("--checkpoint", type=Path, required=True)
    e.add_argument("--data", type=Path, required=True, help="folder of the training images")
    e.add_argument(
        "--real", type=Path, help="held-out real images for KID/FID/C2ST (default --data)"
    )
    e.add_argument("--count", type=int, default=500, help="images to generate (default 500)")
    e.add_argument("--seed", type=int, default=0, help="first image's seed (default 0)")
    e.add_argument(
        "--metrics",
        default=",".join(METRICS),
        help=f"comma-separated subset of {','.join(METRICS)} (default all)",
    )
    e.add_argument("--folds", type=int, default=5, help="C2ST folds (default 5)")
    e.add_argument(
        "--epochs",
        type=int,
        default=40,
        help="upper bound on the C2ST CNN's epochs; it stops early on a validation part "
        "(default 40)",
    )
    e.add_argument("--inception-weights", type=Path, metavar="FILE")
    e.add_argument("--out", type=Path, metavar="JSON", help="write the report here (else stdout)")
    e.add_argument("--device", help="e.g. cpu, cuda (default: CUDA if available)")
    e.set_defaults(handler=lambda args: _evaluate(args, e))
    return e


def _evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    metrics = [name.strip() for name in args.metrics.split(",") if name.strip()]
    if set(metrics) - set(METRICS) or not metrics:
        parser.error(f"--metrics {args.metrics!r}: choose from {','.join(METRICS)}")
    if args.folds < 2 or args.epochs < 1:
        parser.error("--folds must be at least 2 and --epochs at least 1")
    if "c2st" in metrics and args.count < max(2, args.folds):
        parser.error(
            f"--count must be at least {max(2, args.folds)} (and --folds), got {args.count}"
        )
    if args.count < 2:
        parser.error(f"--count must be at least 2, got {args.count}")
    if args.seed < 0:
        parser.error(f"--seed must be at least 0, got {args.seed}")
    try:
        resolution = checkpoint_resolution(args.checkpoint)
        training = load_folder(args.data, resolution)
        real = load_folder(args.real, resolution) if args.real else None
        report = evaluate(
            args.checkpoint,
            training,
            count=args.count,
            real_images=real,
            seed=args.seed,
            metrics=metrics,
            inception_weights=args.inception_weights,
            c2st_folds=args.folds,
            c2st_epochs=args.epochs,
            device=args.device,
        )
    except (CheckpointError, DataError, InceptionWeightsError, ValueError) as exc:
        parser.error(str(exc))
    text = json.dumps(report, indent=1)
    if args.out is None:
        print(text)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(_summary(report))
    print(f"wrote {args.out}")
    return 0


def _summary(report: dict) -> str:
    lines = [f"{report['n_generated']} generated vs {report['n_real']} real images"]
    if "kid" in report:
        k = report["kid"]
        if k["subset_size"] < min(k["n_real"], k["n_fake"]):
            spread = f"± {k['kid_std']:.5f} (subsets of {k['subset_size']})"
        else:  # every subset is a whole set: the spread over subsets says nothing
            spread = "(one subset = all images: no spread)"
        lines.append(f"KID {k['kid']:.5f} {spread}")
    if "fid" in report:
        lines.append(f"FID {report['fid']['fid']:.2f} (biased: compare only at equal N)")
    if "c2st" in report:
        c = report["c2st"]
        low, high = c["auc_ci"]
        lines.append(
            f"C2ST AUC {c['auc']:.3f}, 95 % CI [{low:.3f}, {high:.3f}], fold s.d. "
            f"{c['auc_std']:.3f}: the highest of {len(c['observers'])} observers, "
            f"{c['observer']} (0.5 = indistinguishable)"
        )
        for name, observer in c["observers"].items():
            low, high = observer["auc_ci"]
            lines.append(f"  {name}: AUC {observer['auc']:.3f} [{low:.3f}, {high:.3f}]")
    if "memorisation" in report:
        m = report["memorisation"]
        lines.append(
            f"near-copies of training images: {len(m['near_copies'])} "
            f"(ratio < {m['threshold']:.2f}; median ratio {m['median_ratio']:.2f})"
        )
    return "\n".join(lines)
