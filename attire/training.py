"""Training: a plain loop over tensors held in memory, with a checkpoint after every epoch.

The whole dataset lives on the device as uint8; each batch is gathered by index,
augmented as a whole with tensor ops and fed to the model. The order of batches and
augmentations is a pure function of (seed, epoch), and the learning rate a pure function
of the step, so `--resume` reaches the same final state as an uninterrupted run.

Under torchrun every process runs this same code (attire/distributed.py): each takes its
share of every batch (`shard_order`), the gradients are averaged, and rank 0 alone
validates, speaks and writes the run directory.
"""

import contextlib
import csv
import dataclasses
import io
import json
import math
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from attire import distributed, fileio
from attire.checkpoint import load_training_state, save_model, save_training_state
from attire.config import TrainConfig, config_from_dict, describe_scaling, peak_lr
from attire.errors import ConfigError, TrainingError
from attire.evaluation import compute_metrics, predict_logits
from attire.models import count_parameters, create_model

CHECKPOINT = "checkpoint.safetensors"
BEST = "best.safetensors"
HISTORY_FIELDS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


@dataclass
class Run:
    """What a finished training run leaves behind."""
    dir: Path
    config: TrainConfig
    model: nn.Module
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)   # final test metrics


@dataclass
class Split:
    images: torch.Tensor   # (N, 1, 28, 28) uint8, on the training device
    labels: torch.Tensor   # (N,) int64


# ---------------------------------------------------------------- set-up

def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but PyTorch sees no CUDA device: use --device cpu or auto")
    return torch.device(name)


def prepare_data(config: TrainConfig, device: torch.device) -> tuple[Split, Split | None, Split]:
    """Train, validation (held out from training, fixed by the seed) and test splits on `device`."""
    from attire.data import load_data

    (x_train, y_train), (x_test, y_test) = load_data(config.data_dir, verify=config.verify_data)
    if config.limit:
        x_train, y_train = x_train[:config.limit], y_train[:config.limit]
    if config.val_size >= len(x_train):
        raise ConfigError(f"val_size {config.val_size} leaves no training images out of {len(x_train)}")

    def split(images, labels) -> Split:
        return Split(torch.tensor(images)[:, None].to(device), torch.tensor(labels).long().to(device))

    train, test = split(x_train, y_train), split(x_test, y_test)
    if not config.val_size:
        return train, None, test
    order = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(config.seed)).to(device)
    held_out, kept = order[:config.val_size], order[config.val_size:]
    return (Split(train.images[kept], train.labels[kept]),
            Split(train.images[held_out], train.labels[held_out]), test)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay)
    optimizer = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    # fused kernels cut the per-step overhead that dominates small models
    return optimizer(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)


def learning_rate(step: int, total_steps: int, config: TrainConfig) -> float:
    """Constant, or one-cycle: linear warm-up to the peak, then linear decay to zero."""
    peak = peak_lr(config)  # config.lr, scaled when several processes train together
    if config.schedule == "constant":
        return peak
    warmup = max(1, int(config.warmup_fraction * total_steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total_steps - step) / max(1, total_steps - warmup))


def steps_per_epoch(n_images: int, config: TrainConfig) -> int:
    return math.ceil(n_images / (config.batch_size * config.world_size))


def shard_order(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This process's share of an epoch's shuffled order: every world_size-th image, from `rank`.

    So step s of all the ranks together takes order[s·B·W : (s+1)·B·W], the images one
    process with a batch of B·W would take. The order is first padded by wrapping round to
    a multiple of W, since DDP needs every rank to take as many steps: up to W - 1 images
    are seen twice an epoch. One process takes the whole order, as before.
    """
    if world_size == 1:
        return order
    padded = torch.cat([order, order[:-len(order) % world_size]])
    return padded[rank::world_size]


def autocast(device: torch.device, enabled: bool):
    # a disabled autocast still costs a few microseconds a step, which small models notice
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


# ---------------------------------------------------------------- augmentation

def augment_batch(images: torch.Tensor, generator: torch.Generator, translate: int) -> torch.Tensor:
    """Random horizontal flips and shifts of up to `translate` pixels, for a whole (N, 1, H, W) batch."""
    n, _, height, width = images.shape
    device = images.device
    flip = torch.rand(n, generator=generator).to(device) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    if translate:
        padded = F.pad(images, (translate,) * 4)                       # (N, 1, H+2t, W+2t)
        dy, dx = torch.randint(0, 2 * translate + 1, (2, n), generator=generator).to(device)
        rows = (dy[:, None] + torch.arange(height, device=device))[:, :, None]   # (N, H, 1)
        cols = (dx[:, None] + torch.arange(width, device=device))[:, None, :]    # (N, 1, W)
        images = padded[torch.arange(n, device=device)[:, None, None], 0, rows, cols][:, None]
    return images


# ---------------------------------------------------------------- one epoch

def train_epoch(model, optimizer, train: Split, config: TrainConfig, epoch: int,
                progress: tqdm | None) -> dict:
    device = train.images.device
    n_steps = steps_per_epoch(len(train.labels), config)
    total_steps = n_steps * config.epochs
    # the same order on every rank; the augmentations drawn from it are the same too, but
    # fall on different images, which is all they need
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    order = torch.randperm(len(train.labels), generator=generator)
    order = shard_order(order, distributed.rank(), config.world_size).to(device)
    use_bf16 = config.bf16 and device.type in ("cpu", "cuda")
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    start = time.perf_counter()
    for step in range(n_steps):
        lr = learning_rate(epoch * n_steps + step, total_steps, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        index = order[step * config.batch_size:(step + 1) * config.batch_size]
        images, labels = train.images[index].float(), train.labels[index]
        if config.augment:
            images = augment_batch(images, generator, config.translate)
        images = images.contiguous(memory_format=memory_format)

        with autocast(device, use_bf16):
            logits = model(images)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        loss_sum.add_(loss.detach(), alpha=len(labels))
        correct += (logits.argmax(1) == labels).sum()
        seen += len(labels)
        if progress is not None and (step % 20 == 19 or step == n_steps - 1):  # rank 0's share
            check_finite(loss_sum, epoch, step)
            elapsed = time.perf_counter() - start
            progress.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}",
                                 img_s=f"{seen / elapsed:.0f}", refresh=False)
            progress.update(step + 1 - progress.n)
    loss_total, n_correct, seen = distributed.all_reduce_sum([loss_sum.item(), correct.item(), seen], device)
    check_finite(loss_total, epoch, n_steps - 1)
    return {"train_loss": loss_total / seen, "train_acc": n_correct / seen, "lr": lr}


def check_finite(loss_sum: torch.Tensor | float, epoch: int, step: int) -> None:
    if not math.isfinite(loss_sum):
        raise TrainingError(f"the loss became {float(loss_sum)} in epoch {epoch + 1} (step {step + 1}): "
                            "lower --lr or check the data; the last good checkpoint is kept")


def measure(model, split: Split, bf16: bool) -> dict:
    """Metrics on a split; bf16 for the quick validation pass, float32 for the final test."""
    from attire.data import CLASS_NAMES
    logits = predict_logits(model, split.images, bf16=bf16)
    return compute_metrics(logits, split.labels.cpu(), CLASS_NAMES)


# ---------------------------------------------------------------- the run

def train(config: TrainConfig, out_dir: str | Path | None = None, resume: str | Path | None = None,
          quiet: bool = False, log=print) -> Run:
    """Train as `config` says, writing a run directory; `resume` continues an interrupted run.

    Under torchrun every process calls this; the others return rank 0's run directory and
    metrics with their own last weights (the selected model is the run's model.safetensors).
    """
    if not distributed.is_main():
        quiet, log = True, (lambda *_: None)  # rank 0 speaks for the job
    if resume is not None:
        run_dir = Path(resume)
        config = read_run_config(run_dir)
        if config.world_size != distributed.world_size():
            raise ConfigError(f"{run_dir} was trained by {config.world_size} process(es), not "
                              f"{distributed.world_size()}: the batch and learning rate depend on it, so resume "
                              f"it with as many: `{resume_command(run_dir, config)}`")
    else:
        run_dir = Path(out_dir) if out_dir else default_run_dir(config)
        if (run_dir / "model.safetensors").exists() or (run_dir / CHECKPOINT).exists():
            raise ConfigError(f"{run_dir} already holds a run: pass another --out, or --resume {run_dir}")
        config = dataclasses.replace(config, world_size=distributed.world_size())
    device = distributed.local_device(pick_device(config.device))
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    train_split, val_split, test_split = prepare_data(config, device)
    model = create_model(config.model, **config.model_kwargs).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    progress_info = {"epoch": 0, "history": [], "best_val_acc": -1.0, "best_epoch": 0}
    if resume is not None and (run_dir / CHECKPOINT).exists():
        progress_info = load_training_state(run_dir / CHECKPOINT, model, optimizer)
        log(f"resuming {run_dir} after epoch {progress_info['epoch']}")
    elif distributed.is_main():
        fileio.write_text(run_dir / "config.json", config.to_json() + "\n")
    log(f"config: {json.dumps(config.to_dict(), sort_keys=True)}")
    if config.world_size > 1:
        log(describe_scaling(config))
    log(f"model {config.model}: {count_parameters(model):,} parameters on {device}; "
        f"{len(train_split.labels):,} training, {len(val_split.labels) if val_split else 0:,} validation images")

    with distributed.process_group(device):
        run_dir = distributed.from_main(run_dir)  # a default name holds the time: rank 0's
        with stop_on_sigterm():
            try:
                run_epochs(model, optimizer, config, run_dir, train_split, val_split, progress_info, quiet, log)
            except KeyboardInterrupt:
                log(f"interrupted: the checkpoint after epoch {progress_info['epoch']} is saved; "
                    f"continue with `{resume_command(run_dir, config)}`")
                raise
            except Exception as error:
                if not distributed.is_peer_failure(error):
                    raise
                raise TrainingError(
                    f"another process of this job died or stopped answering ({first_line(error)}); see "
                    f"torchrun's report for which. The checkpoint after epoch {progress_info['epoch']} is "
                    f"kept: continue with `{resume_command(run_dir, config)}`") from error
        if distributed.is_main():
            run = finish_run(model, config, run_dir, test_split, progress_info, log)
        else:
            run = Run(run_dir, config, model.eval(), progress_info["history"])
        run.metrics = distributed.from_main(run.metrics)  # so the others also wait for the run's files
        return run


def run_epochs(model, optimizer, config, run_dir, train_split, val_split, progress_info, quiet, log):
    history = progress_info["history"]
    n_steps = steps_per_epoch(len(train_split.labels), config)
    parallel_model = distributed.data_parallel(model)  # `model` itself in one process
    for epoch in range(progress_info["epoch"], config.epochs):
        start = time.perf_counter()
        torch.manual_seed(config.seed * 1_000 + epoch)
        with tqdm(total=n_steps, desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                  disable=quiet, leave=False, dynamic_ncols=True) as bar:
            row = {"epoch": epoch + 1, **train_epoch(parallel_model, optimizer, train_split, config, epoch, bar)}
        if val_split is not None:
            # rank 0 validates the model it saves, and tells the others: they must agree on early stopping
            val = distributed.from_main(measure(model, val_split, bf16=config.bf16) if distributed.is_main() else None)
            row.update(val_loss=val["loss"], val_acc=val["accuracy"])
            if val["accuracy"] > progress_info["best_val_acc"]:
                progress_info.update(best_val_acc=val["accuracy"], best_epoch=epoch + 1)
                if distributed.is_main():
                    save_model(run_dir / BEST, model, config.model, config.model_kwargs)
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        progress_info["epoch"] = epoch + 1
        if distributed.is_main():
            write_history(run_dir / "history.csv", history)
            save_training_state(run_dir / CHECKPOINT, model, optimizer, **progress_info)
        distributed.barrier()  # no rank starts the next epoch before this checkpoint is whole: a crash keeps it
        log(epoch_summary(row, config.epochs, len(train_split.labels)))
        if config.patience and epoch + 1 - progress_info["best_epoch"] >= config.patience:
            log(f"early stop: no better validation accuracy for {config.patience} epochs")
            break


def finish_run(model, config, run_dir, test_split, progress_info, log) -> Run:
    """Pick the best epoch's weights, evaluate them once on the test set and write the results."""
    from attire.data import CLASS_NAMES

    if (run_dir / BEST).exists():
        from attire.checkpoint import read_safetensors
        model.load_state_dict(read_safetensors(run_dir / BEST)[0])
        log(f"selected epoch {progress_info['best_epoch']} (validation accuracy "
            f"{progress_info['best_val_acc']:.4f})")
    metrics = {"split": "test", **measure(model, test_split, bf16=False),
               "selected_epoch": progress_info["best_epoch"] or progress_info["epoch"],
               "train_seconds": sum(row["seconds"] for row in progress_info["history"])}
    fileio.write_json(run_dir / "metrics.json", metrics)
    save_model(run_dir / "model.safetensors", model, config.model, config.model_kwargs,
               config=config.to_dict(), class_names=list(CLASS_NAMES),
               metrics={"test_accuracy": metrics["accuracy"], "test_loss": metrics["loss"]})
    for leftover in (BEST, CHECKPOINT):
        (run_dir / leftover).unlink(missing_ok=True)
    log(f"test accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}; results in {run_dir}")
    return Run(run_dir, config, model.eval(), progress_info["history"], metrics)


# ---------------------------------------------------------------- run directory

def default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path("runs") / f"{stamp}-{config.model}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = Path("runs") / f"{stamp}-{config.model}-{suffix}"
    return run_dir


def resume_command(run_dir: Path, config: TrainConfig) -> str:
    return distributed.launch_command(f"train --resume {run_dir}", config.world_size)


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def read_run_config(run_dir: Path) -> TrainConfig:
    path = run_dir / "config.json"
    if not path.is_file():
        raise ConfigError(f"cannot resume {run_dir}: it has no config.json (is it a run directory "
                          "written by `attire train`?)")
    if (run_dir / "model.safetensors").exists() and not (run_dir / CHECKPOINT).exists():
        raise ConfigError(f"{run_dir} is a finished run: nothing to resume")
    try:
        return config_from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON ({e})") from None


def write_history(path: Path, history: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    fileio.write_text(path, buffer.getvalue())


def epoch_summary(row: dict, n_epochs: int, n_images: int) -> str:
    text = (f"epoch {row['epoch']:>3}/{n_epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f}")
    if "val_acc" in row:
        text += f"  val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}"
    return text + f"  lr {row['lr']:.2e}  {row['seconds']:.1f} s ({n_images / row['seconds']:.0f} img/s)"


@contextlib.contextmanager
def stop_on_sigterm():
    """Treat SIGTERM like Ctrl-C, so a killed job stops the same clean way."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
