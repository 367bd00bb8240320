"""`attire.Classifier`: classify clothing images (dataset images or your own photos).

Like a scikit-learn estimator: `predict_proba` returns (N, 10) probabilities,
`predict` the class names, and `classes_` holds the names in label order. Torch-free
at import: the engine (PyTorch or ONNX Runtime) is loaded by `Classifier.load`.
"""

from pathlib import Path

import numpy as np

from attire.engines import create_engine
from attire.errors import ImageError, ModelError
from attire.pretrained import resolve_model_path


class Classifier:
    def __init__(self, engine, info: dict):
        self.engine = engine
        self.info = info                       # the model file's metadata: model, config, metrics
        self.classes_ = tuple(info["class_names"])

    @classmethod
    def load(cls, path: str | Path | None = None, engine: str | None = None) -> "Classifier":
        """Load a run directory, a .safetensors or .onnx file, or (None) the pretrained default model."""
        path = resolve_model_path(path, engine)
        engine = create_engine(path, engine)
        if "class_names" not in engine.info:
            # an interrupted run's best.safetensors, say: the weights, but not a finished model
            raise ModelError(f"{path} has no class names in its metadata, so it is not a finished model: "
                             "pass the model.safetensors (or the run directory) that `attire train` "
                             "writes at the end")
        return cls(engine, engine.info)

    def __repr__(self) -> str:
        return f"Classifier(model={self.info.get('model')!r}, engine={self.engine.name!r})"

    # ------------------------------------------------------------ inputs

    def preprocess(self, images) -> np.ndarray:
        """What the model sees: (N, 28, 28) uint8 for one image or a batch of any supported kind.

        Accepts a path, a PIL image, a numpy array (a 28×28 dataset image, an (N, 28, 28)
        batch of them, or any H×W(×C) photo) or a list of these.
        """
        if is_dataset_batch(images):
            return images
        views = [prepare_one(item) for item in as_list(images)]
        return np.stack(views) if views else np.empty((0, 28, 28), np.uint8)

    def logits(self, images) -> np.ndarray:
        batch = self.preprocess(images)
        return self.engine.logits(batch) if len(batch) else np.empty((0, len(self.classes_)), np.float32)

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities, (N, 10), rows summing to 1."""
        return softmax(self.logits(images))

    def predict(self, images) -> np.ndarray:
        """The most likely class name for each image, (N,)."""
        return np.asarray(self.classes_)[self.predict_proba(images).argmax(1)]


def is_dataset_batch(images) -> bool:
    return (isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 3
            and images.shape[1:] == (28, 28))


def as_list(images) -> list:
    if isinstance(images, (list, tuple)):
        return list(images)
    if isinstance(images, np.ndarray) and images.ndim == 4:  # a batch of photos (N, H, W, C)
        return list(images)
    return [images]


def prepare_one(item) -> np.ndarray:
    """One input as the model's (28, 28) uint8 view."""
    from attire.images import load_photo

    if isinstance(item, np.ndarray) and item.shape == (28, 28) and item.dtype == np.uint8:
        return item
    if isinstance(item, (str, Path, bytes)) or hasattr(item, "read") or hasattr(item, "convert") \
            or isinstance(item, np.ndarray):
        return load_photo(item)
    raise ImageError(f"cannot classify a {type(item).__name__}: pass a path, a PIL image, a numpy "
                     "array or a list of these")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
