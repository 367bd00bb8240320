"""The pretrained default model shipped inside the package, and how a model argument is resolved.

Torch-free, so that an ONNX-only install can use it.
"""

from pathlib import Path

from attire.errors import ModelError

PRETRAINED_DIR = Path(__file__).parent
DEFAULT_MODEL = PRETRAINED_DIR / "default.safetensors"
MODEL_CARD = PRETRAINED_DIR / "MODEL_CARD.md"
MODEL_SUFFIXES = (".safetensors", ".onnx")


def resolve_model_path(model: str | Path | None) -> Path:
    """A model file from a run directory, a model file, or None for the shipped default model."""
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
