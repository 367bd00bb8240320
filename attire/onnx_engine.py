"""The ONNX Runtime engine: runs a model written by `attire export`, without PyTorch.

An attire ONNX file is a graph with one input and one output:

    images  uint8   (N, 28, 28)  grey pixels 0..255 as in Fashion-MNIST (PREPROCESSING)
    logits  float32 (N, 10)      one score per class, in the order of `class_names`

and metadata (the ONNX model's metadata_props) that make it describe itself like a
safetensors model file does. This module is the one reader of that format; attire.export
is its one writer and shares the constants below. Torch-free: an ONNX-only install
(`pip install attire[onnx]`) needs nothing more than numpy and onnxruntime.
"""

import json
from pathlib import Path

import numpy as np

from attire.errors import ImageError, ModelError

FORMAT = "attire-onnx"
FORMAT_VERSION = "1"
INPUT_NAME, OUTPUT_NAME = "images", "logits"
N_CLASSES = 10

# What the 28×28 input means. A new version is a new name: an engine refuses a model
# made for preprocessing it does not know rather than classify garbage.
PREPROCESSING = "attire-fashion-mnist-28x28-v1"
PREPROCESSING_DESCRIPTION = (
    "uint8 array (N, 28, 28) of grey pixels 0..255 as in Fashion-MNIST: a dark (0) "
    "background and a bright garment, centred, the whole image 28x28 pixels. The cast "
    "to float, the channel axis and the model's normalisation are inside the graph.")

# Metadata values are strings: these are stored as they are, all others as JSON.
PLAIN_KEYS = ("format", "format_version", "model", "preprocessing", "input", "output",
              "attire_version")
# What an engine needs to be useful; `config` and `metrics` are there when training wrote them.
REQUIRED_KEYS = ("model", "class_names", "preprocessing")

BATCH = 512  # images per run() call: bounds the memory of the activations (resnet: ~200 MB)


def encode_metadata(info: dict) -> dict[str, str]:
    """The metadata_props of an attire ONNX file, from a model file's info."""
    return {key: (str(value) if key in PLAIN_KEYS else json.dumps(value))
            for key, value in info.items() if value is not None}


def decode_metadata(props: dict[str, str], source: str) -> dict:
    if props.get("format") != FORMAT:
        raise ModelError(f"{source} is an ONNX model but not one written by `attire export` (no "
                         f"'format: {FORMAT}' metadata): export an attire model with "
                         "`attire export MODEL -o model.onnx`")
    if props.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{source} is attire ONNX format version {props.get('format_version')!r}; "
                         f"this attire reads version {FORMAT_VERSION}: upgrade attire or export again")
    try:
        info = {key: (value if key in PLAIN_KEYS else json.loads(value)) for key, value in props.items()}
    except json.JSONDecodeError as e:
        raise ModelError(f"{source}: its attire metadata is damaged ({e}): export it again") from None
    missing = [key for key in REQUIRED_KEYS if key not in info]
    if missing:
        raise ModelError(f"{source}: its attire metadata lacks {', '.join(missing)}: export it again")
    if info["preprocessing"] != PREPROCESSING:
        raise ModelError(f"{source} expects inputs prepared as {info['preprocessing']!r}; this attire "
                         f"prepares {PREPROCESSING!r}: use the attire version that exported it")
    return info


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as e:
        raise ModelError(f"running an .onnx model needs ONNX Runtime, which is not installed ({e}): "
                         "pip install 'attire[onnx]'") from None
    return onnxruntime


class OnnxEngine:
    """Runs an attire .onnx model (a path, or the file's bytes) with ONNX Runtime on the CPU."""

    name = "onnx"

    def __init__(self, model: str | Path | bytes, threads: int | None = None):
        ort = import_onnxruntime()
        source = "the ONNX model" if isinstance(model, bytes) else str(model)
        if not isinstance(model, bytes):
            model = Path(model)
            if not model.is_file():
                raise ModelError(f"ONNX model {model} not found" +
                                 (" (it is a directory)" if model.is_dir() else ""))
            model = str(model)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        # ONNX Runtime's errors (InvalidProtobuf, Fail, ...) derive from Exception itself.
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{source} is not a valid ONNX model ({' '.join(str(e).split())}): "
                             "it may be truncated or not a model at all; export it again") from None
        self.info = decode_metadata(self.session.get_modelmeta().custom_metadata_map, source)
        check_signature(self.session, source)

    def __repr__(self) -> str:
        return f"OnnxEngine(model={self.info['model']!r})"

    def logits(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 images -> (N, 10) float32 logits."""
        if not (isinstance(images, np.ndarray) and images.dtype == np.uint8
                and images.ndim == 3 and images.shape[1:] == (28, 28)):
            shape = getattr(images, "shape", None)
            raise ImageError(f"the onnx engine takes a uint8 array of shape (N, 28, 28), got "
                             f"{type(images).__name__} {getattr(images, 'dtype', '')} {shape}: "
                             "use Classifier.predict, which prepares any image")
        outputs = [self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(images[i:i + BATCH])})[0]
                   for i in range(0, len(images), BATCH)]
        return np.concatenate(outputs) if outputs else np.empty((0, N_CLASSES), np.float32)


def check_signature(session, source: str) -> None:
    """The graph must take images (N, 28, 28) uint8 and give logits (N, 10) float."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    found = (f"inputs {[(i.name, i.type, i.shape) for i in inputs]}, "
             f"outputs {[(o.name, o.type, o.shape) for o in outputs]}")
    ok = (len(inputs) == 1 and inputs[0].name == INPUT_NAME and inputs[0].type == "tensor(uint8)"
          and list(inputs[0].shape[1:]) == [28, 28]
          and any(o.name == OUTPUT_NAME and o.type == "tensor(float)"
                  and list(o.shape[1:]) == [N_CLASSES] for o in outputs))
    if not ok:
        raise ModelError(f"{source} has attire metadata but not attire's graph signature: expected "
                         f"input {INPUT_NAME} uint8 (N, 28, 28) and output {OUTPUT_NAME} float (N, 10), "
                         f"found {found}; export it again with `attire export`")
