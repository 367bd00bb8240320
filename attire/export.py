"""ONNX export: a model file that ONNX Runtime (or any ONNX runtime) runs without PyTorch.

The graph takes `images`, uint8 (N, 28, 28) grey pixels 0..255, and returns `logits`,
float32 (N, 10); see attire.onnx_engine for the whole contract and the metadata. The
batch dimension is dynamic. uint8 rather than the torch models' float (N, 1, 28, 28)
because that is what an image decoder hands to an app in any language: the cast, the
channel axis and the normalisation are inside the graph, so nobody can get them wrong.

Every export checks itself before anything is written: ONNX Runtime and PyTorch
classify the same 1,000 test images, and the file is written (atomically) only when
their logits agree within TOLERANCE and their predictions are identical.

Exporter: `torch.onnx.export(..., dynamo=True)`, the torch.export-based exporter that
has been PyTorch's default since 2.9 (the TorchScript one is deprecated). It is slower
(seconds per model, most of it building its operator registry) but it is the one
PyTorch maintains, and it writes opset 18 natively.
"""

import copy
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from attire import __version__, fileio
from attire.checkpoint import load_model
from attire.data import CLASS_NAMES, DATA_DIR_ENV, RESOURCES, SYSTEM_DIRS, cache_dir, find_files, load_data
from attire.errors import ExportError, ModelError
from attire.models import list_models
from attire.onnx_engine import (FORMAT, FORMAT_VERSION, INPUT_NAME, OUTPUT_NAME,
                                PREPROCESSING, PREPROCESSING_DESCRIPTION, OnnxEngine,
                                encode_metadata)
from attire.pretrained import resolve_model_path

DEFAULT_OPSET = 18   # torch's ONNX functions are written for 18; ONNX Runtime >= 1.14 runs it
MIN_OPSET = 18       # below 18 torch converts, and silently keeps 18 when the conversion fails
MAX_OPSET = 23       # the newest torch 2.13 can write
TOLERANCE = 1e-4     # largest |logit difference| between ONNX Runtime and PyTorch allowed
N_CHECK_IMAGES = 1000
OUTPUT_DESCRIPTION = "float32 array (N, 10) of logits in class_names order; softmax gives probabilities"


class UInt8Images(nn.Module):
    """The exported graph: (N, 28, 28) uint8 -> the model's (N, 1, 28, 28) float input -> logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images.unsqueeze(1).float())


def export_model(model: str | Path | None, path: str | Path = "model.onnx",
                 opset: int = DEFAULT_OPSET, data_dir: str | Path | None = None) -> dict:
    """Export a run directory or .safetensors file (None: the shipped model) to `path`.

    Returns the figures of the self-check (see `export_onnx`).
    """
    if isinstance(model, str) and model in list_models() and not Path(model).exists():
        raise ModelError(f"{model!r} is a model name, not a trained model: train one with "
                         f"`attire train --model {model}` and export its run directory")
    source = resolve_model_path(model)
    if source.suffix == ".onnx":
        raise ModelError(f"{source} is already an ONNX model: export a run directory or a .safetensors file")
    net, info = load_model(source)
    return {"source": str(source), **export_onnx(net, info, path, opset=opset, data_dir=data_dir)}


def export_onnx(model: nn.Module, info: dict, path: str | Path, opset: int = DEFAULT_OPSET,
                data_dir: str | Path | None = None, images: np.ndarray | None = None) -> dict:
    """Export `model` (any registered network) with the metadata `info` to `path`, checked first.

    `info` is a model file's metadata (`load_model`'s second value): at least `model`, the
    registry name; `class_names` defaults to Fashion-MNIST's. The check runs on `images`
    ((N, 28, 28) uint8) if given, else on the first 1,000 test images (or, when the data is
    not on this machine, on random images). Returns the check's figures; raises
    ExportError, writing nothing, when the check fails. `model` itself is left unchanged.
    """
    if "model" not in info:
        raise ModelError("export_onnx needs info['model'], the model's registry name (see `attire models`)")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"opset {opset} is not supported: choose {MIN_OPSET} to {MAX_OPSET} "
                          f"(default {DEFAULT_OPSET}, which ONNX Runtime 1.14 and newer runs)")
    started = time.perf_counter()
    model = copy.deepcopy(model).cpu().eval()  # export and check a CPU copy in eval mode
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": info["model"],
                "model_kwargs": info.get("model_kwargs", {}),
                "class_names": list(info.get("class_names") or CLASS_NAMES),
                "config": info.get("config"), "metrics": info.get("metrics"),
                "preprocessing": PREPROCESSING, "input": f"{INPUT_NAME}: {PREPROCESSING_DESCRIPTION}",
                "output": f"{OUTPUT_NAME}: {OUTPUT_DESCRIPTION}", "attire_version": __version__}
    data = to_onnx_bytes(model, opset, encode_metadata(metadata))
    if images is None:
        images, images_source = check_images(data_dir)
    else:
        images_source = "the images given"
    figures = self_check(model, data, images)
    figures.update(images_source=images_source, opset=opset)
    if not figures["passed"]:
        raise ExportError(
            f"the exported graph does not compute what the PyTorch model does: on {figures['n_images']} "
            f"images the largest logit difference is {figures['max_abs_diff']:.2e} (allowed "
            f"{TOLERANCE:.0e}) and {figures['n_images'] - figures['n_same_prediction']} predictions "
            f"differ; nothing was written. Try another --opset, and please report it")
    fileio.write_bytes(path, data)
    figures.update(path=str(path), n_bytes=len(data), seconds=time.perf_counter() - started)
    return figures


def to_onnx_bytes(model: nn.Module, opset: int, metadata: dict[str, str]) -> bytes:
    """The serialised ONNX model: uint8 images in, logits out, batch dimension dynamic."""
    example = torch.zeros(2, 28, 28, dtype=torch.uint8)  # 2, not 1: torch.export specialises size 1
    batch = torch.export.Dim("batch")
    try:
        with quiet_exporter():
            program = torch.onnx.export(
                UInt8Images(model).eval(), (example,), dynamo=True, opset_version=opset,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes={"images": {0: batch}}, verbose=False)
    except ImportError as e:
        raise ExportError(f"ONNX export needs onnx and onnxscript ({e}): pip install 'attire[export]'") from None
    except Exception as e:  # noqa: BLE001 - the exporter's many error types, as one teaching error
        raise ExportError(f"torch.onnx.export failed for model {metadata.get('model')!r}: "
                          f"{type(e).__name__}: {' '.join(str(e).split())[:500]}") from e
    proto = program.model_proto
    written = {entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")}
    if written != {opset}:
        raise ExportError(f"asked for opset {opset}, the exporter wrote {sorted(written)}: "
                          f"use --opset {DEFAULT_OPSET}")
    proto.producer_name, proto.producer_version = "attire", __version__
    proto.doc_string = f"attire {metadata['model']} model: Fashion-MNIST clothing classes from 28x28 grey images"
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    return proto.SerializeToString()


class quiet_exporter:
    """Silences the exporter's chatter that says nothing about our models.

    It logs a warning per missing torchvision operator (we use none) and its pytree
    internals raise FutureWarnings; real failures still raise.
    """

    LOGGER = "torch.onnx._internal.exporter._registration"

    def __enter__(self):
        self.logger = logging.getLogger(self.LOGGER)
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        self.logger.setLevel(self.level)


def check_images(data_dir: str | Path | None = None, n: int = N_CHECK_IMAGES) -> tuple[np.ndarray, str]:
    """The first `n` Fashion-MNIST test images where the data is on this machine, else random ones.

    Never downloads: an export should not need the network. Returns (images, where from).
    """
    places = [cache_dir(), *SYSTEM_DIRS]
    if data_dir is not None or os.environ.get(DATA_DIR_ENV) or any(
            len(find_files(place)) == len(RESOURCES) for place in places):
        _, (test_images, _) = load_data(data_dir, progress=False)
        return test_images[:n], f"the first {min(n, len(test_images)):,} Fashion-MNIST test images"
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    return images, (f"{n:,} random images (Fashion-MNIST is not on this machine: pass --data-dir, "
                    "or run `attire data` to download it, to check on the real test set)")


def self_check(model: nn.Module, data: bytes, images: np.ndarray) -> dict:
    """Run the ONNX bytes through attire's own ONNX engine and the model through PyTorch; compare."""
    if len(images) == 0:
        raise ExportError("the export's check needs at least one image, got none")
    engine = OnnxEngine(data)
    onnx_logits = engine.logits(images)
    with torch.inference_mode():
        torch_logits = np.concatenate([
            model(torch.from_numpy(images[i:i + 500]).unsqueeze(1).float()).numpy()
            for i in range(0, len(images), 500)])
    max_abs_diff = float(np.abs(onnx_logits - torch_logits).max())
    same = int((onnx_logits.argmax(1) == torch_logits.argmax(1)).sum())
    return {"n_images": len(images), "max_abs_diff": max_abs_diff, "tolerance": TOLERANCE,
            "n_same_prediction": same,
            "passed": bool(max_abs_diff <= TOLERANCE and same == len(images))}
