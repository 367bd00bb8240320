"""attire: recognise clothing in images (Fashion-MNIST and your own photos).

Imports are lazy so that `import attire` stays quick and an ONNX-only install
(`pip install attire[onnx]`) never loads torch.
"""

import importlib

from attire.errors import (
    AttireError,
    ConfigError,
    DatasetError,
    ExportError,
    ImageError,
    ModelError,
    RunError,
    TrainingError,
)

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "CLASS_NAMES": "attire.data",
    "load_data": "attire.data",
    "create_model": "attire.models",
    "list_models": "attire.models",
    "TrainConfig": "attire.config",
    "train": "attire.training",
    "Run": "attire.training",
    "evaluate": "attire.evaluation",
    "Classifier": "attire.predict",
    "read_image": "attire.images",
    "preprocess_photo": "attire.images",
    "load_photo": "attire.images",
    "export_onnx": "attire.export",
}

__all__ = [
    "AttireError", "ConfigError", "DatasetError", "ExportError", "ImageError", "ModelError",
    "RunError", "TrainingError", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'attire' has no attribute {name!r}")
