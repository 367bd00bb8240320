"""The model registry: `create_model(name)` builds any registered network by name.

Every model takes a (N, 1, 28, 28) float batch of raw pixel values in [0, 255] and
returns (N, 10) logits. Each model owns its input normalisation, so callers (training,
prediction, serving, export) never need to know it.
"""

from typing import Callable

import torch
from torch import nn

from attire.errors import ModelError

N_CLASSES = 10
IMAGE_SHAPE = (1, 28, 28)

# Fashion-MNIST training-set pixel statistics on the [0, 1] scale.
MEAN, STD = 0.2860, 0.3530

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    _REGISTRY[builder.__name__] = builder
    return builder


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def describe_model(name: str) -> str:
    """The first line of the model builder's docstring."""
    return (_REGISTRY[name].__doc__ or "").strip().splitlines()[0]


def create_model(name: str, **kwargs) -> nn.Module:
    if name not in _REGISTRY:
        raise ModelError(f"unknown model {name!r}: choose one of {', '.join(list_models())}")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as e:
        raise ModelError(f"model {name!r} does not take these options {kwargs}: {e}") from e


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Normalize(nn.Module):
    """Maps raw pixels in [0, 255] to (x / 255 - mean) / std."""

    def __init__(self, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.mean, self.std = mean, std
        # one multiply-add per pixel: small models are bound by per-op overhead
        self.scale, self.shift = 1 / (255 * std), -mean / std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.scale
        return x + self.shift if self.shift else x


class FlipAveraged(nn.Module):
    """In eval mode, averages the logits of the image and its mirror (test-time augmentation)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.net(x)
        return (self.net(x) + self.net(x.flip(-1))) / 2


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


@register_model
def mlp() -> nn.Module:
    """The tutorial's network: Flatten → Dense(128, ReLU) → Dense(10), on pixels / 255."""
    return nn.Sequential(
        Normalize(0.0, 1.0),
        nn.Flatten(),
        nn.Linear(28 * 28, 128),
        nn.ReLU(),
        nn.Linear(128, N_CLASSES),
    )


@register_model
def cnn(width: int = 32, flip_tta: bool = True) -> nn.Module:
    """A small VGG-style net sized for a 2-core CPU: three conv stages of 28, 14 and 7 pixels."""
    w = width
    net = nn.Sequential(
        Normalize(MEAN, STD),
        conv_bn(1, w), nn.MaxPool2d(2),            # (N, w, 14, 14)
        conv_bn(w, 2 * w), nn.MaxPool2d(2),        # (N, 2w, 7, 7)
        conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),    # (N, 4w, 3, 3)
        nn.Flatten(),
        nn.Linear(4 * w * 3 * 3, N_CLASSES),
    )
    return FlipAveraged(net) if flip_tta else net


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_model
def resnet(width: int = 64, flip_tta: bool = True) -> nn.Module:
    """A ResNet-9-style net (as in the CIFAR-10 speed runs) for the best accuracy, GPU-sized."""
    w = width
    net = nn.Sequential(
        Normalize(MEAN, STD),
        conv_bn(1, w),                                             # (N, w, 28, 28)
        conv_bn(w, 2 * w), nn.MaxPool2d(2), Residual(2 * w),       # (N, 2w, 14, 14)
        conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),                    # (N, 4w, 7, 7)
        conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), Residual(8 * w),   # (N, 8w, 3, 3)
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        nn.Linear(8 * w, N_CLASSES),
    )
    return FlipAveraged(net) if flip_tta else net
