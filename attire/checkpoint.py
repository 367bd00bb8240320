"""Model files and training checkpoints, as safetensors (never pickle).

A model file describes itself: the model's name, its options, the class names and the
training config travel in the safetensors metadata, so prediction, evaluation, serving
and export rebuild the model with no flags.
"""

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from attire import fileio
from attire.errors import ModelError
from attire.models import create_model

FORMAT = "attire-model"
FORMAT_VERSION = "1"


def save_model(path: str | Path, model: nn.Module, model_name: str, model_kwargs: dict,
               **info) -> None:
    """Write the weights atomically; `info` (config, metrics, class_names...) goes in the metadata as JSON."""
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": model_name,
                "model_kwargs": json.dumps(model_kwargs)}
    metadata.update({key: json.dumps(value) for key, value in info.items()})
    fileio.write_bytes(path, save_tensors(cpu_state(model), metadata=metadata))


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild the model a file describes; returns it in eval mode with its decoded metadata."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ModelError(f"{path} is a safetensors file but not an attire model (no '{FORMAT}' "
                         "metadata): pass a model written by `attire train`")
    info = {key: (value if key in ("format", "format_version", "model") else json.loads(value))
            for key, value in metadata.items()}
    model = create_model(info["model"], **info["model_kwargs"])
    load_weights(model, tensors, path)
    return model.eval(), info


def save_training_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                        **info) -> None:
    """The end-of-epoch checkpoint that `--resume` continues from: weights, optimiser state, progress."""
    tensors = {f"model.{k}": v for k, v in cpu_state(model).items()}
    optim_state = optimizer.state_dict()
    for index, state in optim_state["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
    metadata = {"format": "attire-checkpoint",
                "param_groups": json.dumps(optim_state["param_groups"]),
                "info": json.dumps(info)}
    fileio.write_bytes(path, save_tensors(tensors, metadata=metadata))


def load_training_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    """Restore a checkpoint written by save_training_state into `model` and `optimizer`; returns its info."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != "attire-checkpoint":
        raise ModelError(f"{path} is not an attire training checkpoint")
    load_weights(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
    except (ValueError, KeyError) as e:
        raise ModelError(f"{path}: the optimiser state does not match this run's config ({e})") from e
    match_parameter_layout(optimizer)
    return json.loads(metadata["info"])


def match_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give each saved moment the memory layout of its parameter (channels-last, say).

    Checkpoints store tensors contiguous; fused optimisers walk a parameter and its moments
    element by element in memory order, so a layout mismatch would pair the wrong elements.
    """
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if torch.is_tensor(value) and value.shape == param.shape:
                state[key] = torch.empty_like(param).copy_(value)


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    path = Path(path)
    try:
        data = path.read_bytes()
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
        return load_tensors(data), metadata
    except FileNotFoundError:
        raise ModelError(f"model file {path} not found") from None
    except IsADirectoryError:
        raise ModelError(f"{path} is a directory, not a model file") from None
    except (SafetensorError, ValueError, OSError) as e:
        raise ModelError(f"{path} is not a valid safetensors file ({e}): it may be truncated or "
                         "not a model at all; retrain or copy it again") from None


def load_weights(model: nn.Module, tensors: dict[str, torch.Tensor], path) -> None:
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise ModelError(f"{path}: the weights do not fit the model they claim to be ({detail})") from None


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
