"""Make the pretrained default model that ships inside the package, and its model card.

    python scripts/make_pretrained.py                          # the release recipe (`make pretrained`)
    python scripts/make_pretrained.py --preset fast --epochs 1  # a quick stand-in, marked TEMPORARY

Runs `attire train --preset PRESET --seed SEED [other train flags]` into a temporary run
directory, then copies its model.safetensors to attire/pretrained/default.safetensors
and writes attire/pretrained/MODEL_CARD.md from the run's config.json and metrics.json,
with the machine it ran on. Both files are replaced atomically. Any recipe other than
the release one (`--preset default --seed 0`, no other flags) is written up as
TEMPORARY, so a stand-in can never pass for the real model.
"""

import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's attire, installed or not

from attire import fileio  # noqa: E402
from attire.pretrained import DEFAULT_MODEL, MODEL_CARD  # noqa: E402

RELEASE_PRESET, RELEASE_SEED = "default", 0
# `attire train` flags this script sets itself.
OWN_FLAGS = ("--out", "--resume", "--no-report")


def parse_args(argv=None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Any other flag (--epochs 1, --limit 5000, --set KEY=VALUE...) goes to "
               "`attire train` unchanged and makes the model TEMPORARY.")
    parser.add_argument("--preset", default=RELEASE_PRESET, help=f"training preset (default: {RELEASE_PRESET})")
    parser.add_argument("--seed", type=int, default=RELEASE_SEED, help=f"random seed (default: {RELEASE_SEED})")
    parser.add_argument("--model-out", type=Path, default=DEFAULT_MODEL,
                        help="where the weights go (default: the package's pretrained/default.safetensors)")
    parser.add_argument("--card-out", type=Path, default=MODEL_CARD,
                        help="where the model card goes (default: the package's pretrained/MODEL_CARD.md)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar in `attire train` (for logs)")
    args, train_flags = parser.parse_known_args(argv)
    for flag in train_flags:
        if flag.split("=")[0] in OWN_FLAGS:
            parser.error(f"{flag} is set by this script; the run goes to a temporary directory")
    return args, train_flags


def is_release(args, train_flags: list[str]) -> bool:
    return args.preset == RELEASE_PRESET and args.seed == RELEASE_SEED and not train_flags


def train(args, train_flags: list[str], run_dir: Path) -> tuple[list[str], float]:
    """Run `attire train` as a user would, in a child process; returns its command and wall time."""
    recipe = ["train", "--preset", args.preset, "--seed", str(args.seed), *train_flags]
    quiet = ["--quiet"] if args.quiet else []  # changes the log, not the model: no part of the recipe
    command = [sys.executable, "-m", "attire", *recipe, "--out", str(run_dir), "--no-report", *quiet]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True)
    return ["attire", *recipe], time.perf_counter() - start


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    load = f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return (f"{cpu}, {os.cpu_count()} cores{gpu}{load}; {platform.system()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}")


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes" if dirty else "")


def model_card(*, release: bool, command: list[str], script_command: str, config: dict, metrics: dict,
               weights: bytes, wall_seconds: float, machine_text: str, commit: str, started: str) -> str:
    accuracy, loss = metrics["accuracy"], metrics["loss"]
    options = json.dumps(config["model_kwargs"]) if config["model_kwargs"] else "default options"
    status = ("" if release else
              "> **TEMPORARY.** This is a stand-in for development and tests, made with a shorter "
              f"recipe than the release one (`{script_command}` instead of "
              "`python scripts/make_pretrained.py`). Its accuracy is not the default model's. "
              "Replace it with `make pretrained` on a quiet machine.\n\n")
    lines = [
        "# The pretrained default model", "",
        "`attire/pretrained/default.safetensors` is the model every command and `Classifier.load()` "
        "use when no model is given. This card is written by `scripts/make_pretrained.py` from the "
        "run's config.json and metrics.json; do not edit it by hand.", "",
        status.rstrip("\n") if status else None, "" if status else None,
        "| | |", "|---|---|",
        f"| status | {'release' if release else '**TEMPORARY** (see above)'} |",
        f"| model | `{config['model']}`, {options} |",
        f"| preset | `{config['preset']}` |",
        f"| seed | {config['seed']} |",
        f"| epochs | {config['epochs']} (weights of epoch {metrics.get('selected_epoch', '?')}, the best on "
        f"{config['val_size']:,} held-out training images) |",
        f"| test accuracy | **{accuracy:.4f}** on the {metrics['n_images']:,} test images (loss {loss:.4f}) |",
        f"| training time | {metrics.get('train_seconds', float('nan')):.0f} s of training epochs, "
        f"{wall_seconds:.0f} s for the whole command |",
        f"| machine | {machine_text} |",
        f"| made | {started} from commit {commit} |",
        f"| file | {len(weights) / 1024:.0f} KiB, SHA-256 `{hashlib.sha256(weights).hexdigest()}` |",
        "", "## Reproduce", "", "```sh", script_command,
        "# which runs, into a temporary run directory:",
        " ".join(shlex.quote(part) for part in command), "```", "",
        "## Per class (test set)", "", "| class | precision | recall | f1 |", "|---|---:|---:|---:|",
        *(f"| {row['class']} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} |"
          for row in metrics["per_class"]),
        "", "## Training config", "", "```json", json.dumps(config, indent=2, sort_keys=True), "```", "",
        "## Intended use and limits", "",
        "Fashion-MNIST-style images: one garment, alone, on a plain background, as in a shop's "
        "product photo. Your own photos go through the dataset's preprocessing first (see the "
        "README, \"Classify your own photos\"). A garment worn by a person, several objects, a "
        "cluttered or patterned background, or anything that is not one of the ten classes still "
        "gets one of the ten names, often with high confidence.", "",
    ]
    return "\n".join(line for line in lines if line is not None)


def main(argv=None) -> int:
    args, train_flags = parse_args(argv)
    release = is_release(args, train_flags)
    script_command = " ".join(["python scripts/make_pretrained.py",
                               *([] if args.preset == RELEASE_PRESET else ["--preset", args.preset]),
                               *([] if args.seed == RELEASE_SEED else ["--seed", str(args.seed)]),
                               *map(shlex.quote, train_flags)])
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine_text, commit = machine(), git_commit()  # before training: the load it started under
    with tempfile.TemporaryDirectory(prefix="attire-pretrained-") as scratch:
        run_dir = Path(scratch) / "run"
        try:
            command, wall_seconds = train(args, train_flags, run_dir)
        except subprocess.CalledProcessError as e:
            print(f"make_pretrained: `attire train` failed (exit status {e.returncode}); "
                  f"{args.model_out} and {args.card_out} are unchanged", file=sys.stderr)
            return 1
        config = json.loads((run_dir / "config.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
        weights = (run_dir / "model.safetensors").read_bytes()
    card = model_card(release=release, command=command, script_command=script_command, config=config,
                      metrics=metrics, weights=weights, wall_seconds=wall_seconds,
                      machine_text=machine_text, commit=commit, started=started)
    fileio.write_bytes(args.model_out, weights)
    fileio.write_text(args.card_out, card)
    kind = "release" if release else "TEMPORARY"
    print(f"{kind} model: test accuracy {metrics['accuracy']:.4f}; wrote {args.model_out} and {args.card_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
