"""`attire train`: train a model from a preset, with flags overriding the preset.

`torchrun --nproc-per-node N -m attire train ...` trains with N processes (see attire/distributed.py).
"""

import argparse
import json

from attire.config import PRESETS


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "train", parents=[common], help="train a model and write a run directory",
        description="Train a model. Any flag overrides the preset's value; the resolved config is "
                    "printed and saved as RUN_DIR/config.json. Presets: " +
                    "; ".join(f"{name}: {p.description}" for name, p in PRESETS.items()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--preset", default="default", choices=list(PRESETS), help="named recipe")
    parser.add_argument("--model", help="model name (see `attire models`); default: the preset's")
    parser.add_argument("--epochs", type=int, help="number of epochs; default: the preset's")
    parser.add_argument("--batch-size", type=int,
                        help="images per step and process (under torchrun the step takes N times as many); "
                             "default: the preset's")
    parser.add_argument("--lr", type=float,
                        help="peak learning rate for one process (under torchrun, × N: see lr_scaling); "
                             "default: the preset's")
    parser.add_argument("--seed", type=int, help="random seed (split, weights, order); default: 0")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: auto (CUDA when present)")
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST files (default: search)")
    parser.add_argument("--limit", type=int, help="train on the first N training images only (smoke runs)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, e.g. --set label_smoothing=0.05 (value as JSON)")
    parser.add_argument("--out", help="run directory (default: runs/<date-time>-<model>/)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch, for logs")
    parser.add_argument("--no-report", action="store_true", help="skip the pictures and report.html")
    parser.set_defaults(handler=run)


def overrides_from(args) -> dict:
    flags = {"model": args.model, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
             "seed": args.seed, "device": args.device, "data_dir": args.data_dir, "limit": args.limit}
    overrides = {key: value for key, value in flags.items() if value is not None}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            from attire.errors import ConfigError
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, for example --set label_smoothing=0.05")
        try:
            overrides[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key.strip()] = text
    if args.model and args.model != PRESETS[args.preset].model and "model_kwargs" not in overrides:
        overrides["model_kwargs"] = {}  # the preset's options belong to the preset's model
    return overrides


def run(args) -> int:
    from attire.config import resolve_config
    from attire.distributed import is_main
    from attire.training import train

    if args.resume:
        run = train(None, resume=args.resume, quiet=args.quiet)
    else:
        config = resolve_config(args.preset, **overrides_from(args))
        run = train(config, out_dir=args.out, quiet=args.quiet)
    if not is_main():
        return 0  # under torchrun rank 0 reports for the job
    if not args.no_report:
        from attire.report import write_report
        print(f"report: {write_report(run.dir)}")
    print(f"run directory: {run.dir}")
    return 0
