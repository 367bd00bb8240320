"""The pretrained default model shipped inside the package, and how a model argument is resolved.

Torch-free, so that an ONNX-only install can use it.
"""

import importlib.util
from pathlib import Path

from attire.errors import ModelError

PRETRAINED_DIR = Path(__file__).parent
DEFAULT_MODEL = PRETRAINED_DIR / "default.safetensors"
DEFAULT_ONNX_MODEL = PRETRAINED_DIR / "default.onnx"  # the same model, `attire export`ed
MODEL_CARD = PRETRAINED_DIR / "MODEL_CARD.md"
MODEL_SUFFIXES = (".safetensors", ".onnx")


def resolve_model_path(model: str | Path | None, engine: str | None = None) -> Path:
    """A model file from a run directory, a model file, or None for the shipped default model.

    For None, `engine` chooses between the default model's two files: "onnx" the .onnx,
    "torch" the .safetensors, None the .safetensors when torch is installed, else the .onnx.
    """
    if model is None and (engine == "onnx" or (engine is None and not torch_installed())):
        if not DEFAULT_ONNX_MODEL.is_file():
            raise ModelError(f"the pretrained default ONNX model {DEFAULT_ONNX_MODEL} is missing from "
                             "this install: reinstall attire, pass an .onnx model, or install "
                             "'attire[torch]' to use the PyTorch model")
        return DEFAULT_ONNX_MODEL
    if model is None:
        if not DEFAULT_MODEL.is_file():
            raise ModelError(f"the pretrained default model {DEFAULT_MODEL} is missing from this "
                             "install: reinstall attire, or pass a model (a run directory or a .safetensors file)")
        return DEFAULT_MODEL
    path = Path(model)
    if path.is_dir():
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise ModelError(f"run directory {path} has no model.safetensors: the run did not finish; "
                             f"resume it with `attire train --resume {path}` or pass another model")
        return weights
    if not path.exists():
        raise ModelError(f"model {path} not found: pass a run directory, a .safetensors or .onnx file, "
                         "or nothing for the pretrained default model")
    if path.suffix not in MODEL_SUFFIXES:
        raise ModelError(f"model {path} is not a model file: expected a run directory or a file ending "
                         f"in {' or '.join(MODEL_SUFFIXES)}")
    return path


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None  # looks for it without importing it
