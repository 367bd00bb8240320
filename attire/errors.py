"""One exception family for every problem a user can cause and fix.

Each message says what was expected, what was received and what to do; the
command line prints it as one line and exits non-zero (traceback only with --debug).
"""


class AttireError(Exception):
    """Base class of attire's user-facing errors."""


class DatasetError(AttireError):
    """The dataset is missing, corrupt, tampered with or not in IDX format."""


class ConfigError(AttireError):
    """A training configuration, preset or flag is invalid."""


class ModelError(AttireError):
    """An unknown model name, or a model file that is missing, corrupt or foreign."""


class ImageError(AttireError):
    """An input image that cannot be read or is too large."""


class TrainingError(AttireError):
    """Training cannot go on (for example the loss became NaN or infinite)."""


class ExportError(AttireError):
    """The ONNX exporter failed, or its graph does not compute what the PyTorch model does."""


class RunError(AttireError):
    """A directory that is not a finished training run (no model, config or metrics in it)."""
