"""Training configuration: one dataclass, named presets, overrides that are checked.

A preset is a named TrainConfig; command-line flags override its fields; the
resolved config is printed and saved with every run (config.json).
"""

import dataclasses
import json
from dataclasses import dataclass, field

from attire.errors import ConfigError


@dataclass
class TrainConfig:
    preset: str = "default"          # the preset these values started from
    description: str = ("The best accuracy in a few minutes of a 2-core CPU: the cnn with flips, "
                        "one-pixel shifts, label smoothing and a one-cycle schedule.")
    model: str = "cnn"               # a name from `attire models`
    model_kwargs: dict = field(default_factory=dict)  # passed to create_model
    epochs: int = 20                 # full passes over the training images
    batch_size: int = 128            # images per optimiser step and process: the step takes batch_size × world_size
    lr: float = 3e-3                 # peak learning rate for one process (see lr_scaling)
    lr_scaling: str = "linear"       # with N processes the peak is lr × N ("linear", as the batch grows N-fold) or lr ("none")
    world_size: int = 1              # processes training together (torchrun's WORLD_SIZE): recorded at launch, not a flag
    optimizer: str = "adamw"         # "adam" | "adamw" | "sgd" (Nesterov, momentum 0.9)
    weight_decay: float = 5e-4       # decoupled weight decay (adamw) or L2 (sgd)
    schedule: str = "onecycle"       # "constant" | "onecycle" (linear warm-up, then linear decay to 0)
    warmup_fraction: float = 0.2     # share of all steps spent warming up (onecycle)
    label_smoothing: float = 0.1     # cross-entropy label smoothing, 0 to 1
    augment: bool = True             # random horizontal flips and translations of whole batches
    translate: int = 1               # largest random shift in pixels when augmenting
    val_size: int = 5000             # training images held out for validation and model selection (0: none)
    patience: int = 0                # stop after this many epochs without a better validation accuracy (0: never)
    seed: int = 0                    # fixes the validation split, the initial weights and the batch order
    device: str = "auto"             # "auto" (CUDA when present) | "cpu" | "cuda"
    threads: int = 0                 # CPU threads PyTorch uses in this process (0: its default, one per core)
    bf16: bool = True                # bfloat16 autocast where the device supports it
    channels_last: bool = True       # channels-last memory format for convolutions
    limit: int = 0                   # train on the first N training images only (0: all); for smoke tests
    data_dir: str | None = None      # where Fashion-MNIST is; None: the usual search order
    verify_data: bool = True         # require the official checksums (False: a custom IDX dataset)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


PRESETS: dict[str, TrainConfig] = {
    "tutorial": TrainConfig(
        preset="tutorial",
        description="The tutorial's recipe exactly: mlp on pixels/255, Adam 1e-3, batch 32, "
                    "20 epochs, all 60,000 training images (no validation split), no augmentation.",
        model="mlp", epochs=20, batch_size=32, lr=1e-3, optimizer="adam", weight_decay=0.0,
        schedule="constant", val_size=0, label_smoothing=0.0, augment=False, bf16=False,
        channels_last=False, threads=1,  # a 32-image step is too small to share: a second thread only waits
    ),
    "fast": TrainConfig(
        preset="fast",
        description="A narrow cnn for about half a minute of CPU.",
        model_kwargs={"width": 16}, epochs=5,
    ),
    "default": TrainConfig(),  # the dataclass's defaults are the default preset
    "best": TrainConfig(
        preset="best",
        description="The highest accuracy: the resnet, longer, with two-pixel shifts; aimed at a GPU.",
        model="resnet", epochs=30, batch_size=512, lr=2e-3, translate=2,
    ),
}


def resolve_config(preset: str = "default", **overrides) -> TrainConfig:
    """The preset's config with `overrides` applied; unknown presets or keys are errors."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return config_from_dict({**PRESETS[preset].to_dict(), **overrides})


def config_from_dict(values: dict) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown config keys {unknown}: valid keys are {', '.join(sorted(known))}")
    config = TrainConfig(**values)
    check_config(config)
    return config


def check_config(config: TrainConfig) -> None:
    choices = {"optimizer": ("adam", "adamw", "sgd"), "schedule": ("constant", "onecycle"),
               "device": ("auto", "cpu", "cuda"), "lr_scaling": ("linear", "none")}
    for name, allowed in choices.items():
        if getattr(config, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}")
    positive = {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr,
                "world_size": config.world_size}
    for name, value in positive.items():
        if not value > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")
    if not 0 <= config.label_smoothing < 1:
        raise ConfigError(f"label_smoothing must be in [0, 1), got {config.label_smoothing}")
    if config.val_size < 0 or config.limit < 0 or config.patience < 0 or config.threads < 0:
        raise ConfigError("val_size, limit and patience must be zero or positive")


def peak_lr(config: TrainConfig) -> float:
    """The peak learning rate a run uses: `lr` scaled by the number of processes, as `lr_scaling` says.

    Each process takes `batch_size` images a step and the gradients are averaged, so a run
    of N processes steps with N × batch_size images; the linear rule (Goyal et al. 2017,
    arXiv:1706.02677) multiplies the learning rate as much. With one process it is `lr`.
    """
    return config.lr * config.world_size if config.lr_scaling == "linear" else config.lr


def describe_scaling(config: TrainConfig) -> str:
    """The batch and learning rate a run of several processes uses, with the arithmetic."""
    n = config.world_size
    lr_text = (f"lr {peak_lr(config):g} = {config.lr:g} × {n}" if config.lr_scaling == "linear"
               else f"lr {config.lr:g} (lr_scaling none)")
    return f"{n} processes: effective batch {n * config.batch_size} = {n} × {config.batch_size}, {lr_text}"
