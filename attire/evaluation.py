"""Evaluation: logits for a batch of images, and the metrics a user reads (accuracy,
loss, per-class precision/recall/F1, confusion matrix)."""

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

EVAL_BATCH = 1000


def as_image_batch(images) -> torch.Tensor:
    """uint8 images (N, 28, 28) or (N, 1, 28, 28), numpy or torch, as a (N, 1, 28, 28) tensor."""
    images = torch.tensor(images) if isinstance(images, np.ndarray) else images
    return images[:, None] if images.ndim == 3 else images


@torch.inference_mode()
def predict_logits(model: nn.Module, images, batch_size: int = EVAL_BATCH,
                   bf16: bool = False) -> torch.Tensor:
    """Logits (N, 10) on the CPU for uint8 images (N, 28, 28) or (N, 1, 28, 28), numpy or torch."""
    images = as_image_batch(images)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device, non_blocking=True).float()
        batch = batch.contiguous(memory_format=torch.channels_last)  # the layout convolutions run fastest in
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            outputs.append(model(batch).float().cpu())
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0, 10)


@torch.inference_mode()
def logits_and_features(model: nn.Module, images,
                        batch_size: int = EVAL_BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, 10) and penultimate-layer features (N, D) on the CPU, in one pass.

    The features are the input of the model's last nn.Linear, caught by a forward hook.
    A FlipAveraged model calls that layer twice (the image and its mirror): its inputs are
    averaged, which, the layer being linear, gives the features of the averaged logits.
    """
    last_linear = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not last_linear:
        from attire.errors import ModelError
        raise ModelError(f"{type(model).__name__} has no nn.Linear layer to take features from")
    calls: list[torch.Tensor] = []
    hook = last_linear[-1].register_forward_hook(lambda _module, inputs, _output: calls.append(inputs[0]))
    images = as_image_batch(images)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    logits, features = [], []
    try:
        for start in range(0, len(images), batch_size):
            calls.clear()
            batch = images[start:start + batch_size].to(device).float()
            logits.append(model(batch).float().cpu())
            features.append(torch.stack(calls).mean(0).flatten(1).float().cpu())
    finally:
        hook.remove()
        model.train(was_training)
    if not logits:
        return torch.empty(0, 10), torch.empty(0, last_linear[-1].in_features)
    return torch.cat(logits), torch.cat(features)


def compute_metrics(logits: torch.Tensor, labels, class_names) -> dict:
    """Accuracy, mean cross-entropy, per-class table and confusion matrix (rows: true, columns: predicted)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    n_classes = len(class_names)
    predicted = logits.argmax(1)
    confusion = torch.bincount(labels * n_classes + predicted, minlength=n_classes ** 2)
    confusion = confusion.reshape(n_classes, n_classes).numpy()
    true_positives = np.diag(confusion).astype(float)
    support = confusion.sum(1)
    predicted_count = confusion.sum(0)
    precision = np.divide(true_positives, predicted_count, out=np.zeros(n_classes), where=predicted_count > 0)
    recall = np.divide(true_positives, support, out=np.zeros(n_classes), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return {
        "n_images": int(len(labels)),
        "accuracy": float(true_positives.sum() / max(len(labels), 1)),
        "loss": float(F.cross_entropy(logits, labels).item()) if len(labels) else float("nan"),
        "per_class": [
            {"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        ],
        "confusion_matrix": confusion.tolist(),
    }


def evaluate(model: nn.Module | str | Path | None = None, split: str = "test",
             data_dir: str | None = None) -> dict:
    """Metrics of a model (a module, a run directory, a model file, or None for the default) on a split."""
    from attire.checkpoint import load_model
    from attire.data import CLASS_NAMES, load_data
    from attire.pretrained import resolve_model_path

    if not isinstance(model, nn.Module):
        model, _ = load_model(resolve_model_path(model))
    if split not in ("train", "test"):
        from attire.errors import ConfigError
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    (x_train, y_train), (x_test, y_test) = load_data(data_dir)
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    metrics = compute_metrics(predict_logits(model, images), labels, CLASS_NAMES)
    return {"split": split, **metrics}
