"""Pictures of the data and of models, written as PNG files.

Figures are built on matplotlib's Agg canvas directly rather than through pyplot:
no global state, no GUI, and safe to call from a server or a notebook alike.
"""

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from attire.data import CLASS_NAMES
from attire.fileio import atomic_write

CELL_INCHES = 1.0       # each image with its caption; the tutorial's 10x10 grid is 10 inches wide
IMAGE_INCHES = 0.8      # the image within its cell; the rest holds the caption and the gap
MARGIN_INCHES = 0.1     # around the whole grid
TITLE_INCHES = 0.4      # extra height for the title
TITLE_INCHES_PER_CHARACTER = 0.1  # roughly, at the title's size: to keep a title wider than its grid
CAPTION_POINTS = 9      # "T-shirt/top", the longest name, fits under a 1-inch cell at this size
DPI = 100


def sample_grid(images: np.ndarray, labels: np.ndarray, path: str | os.PathLike,
                rows: int = 10, cols: int = 10, title: str | None = "Fashion-MNIST samples",
                class_names=CLASS_NAMES) -> Path:
    """Draw the first `rows * cols` images, each with its class name below, into a PNG at `path`.

    `images` is (N, H, W), uint8 in 0..255 or floats in 0..1 (the tutorial's scaled
    images); `labels` is (N,) class numbers. With fewer than `rows * cols` images
    the remaining cells stay empty. Written atomically; returns the path.
    """
    images, labels, path = np.asarray(images), np.asarray(labels), Path(path)
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"expected images of shape (N, H, W) and labels of shape (N,), "
                         f"got {images.shape} and {labels.shape}")
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be at least 1, got rows={rows}, cols={cols}")
    if path.suffix.lower() != ".png":
        raise ValueError(f"sample_grid writes PNG files; {path} should end in .png")
    # White is 0 and black the maximum under the binary map, as in the tutorial.
    brightest = 255 if images.dtype == np.uint8 else 1.0

    title_inches = TITLE_INCHES if title else 0.0
    grid_width = cols * CELL_INCHES
    # A narrow grid gets a wider canvas so that its title is not cut off; the grid stays centred.
    width = max(grid_width + 2 * MARGIN_INCHES, len(title or "") * TITLE_INCHES_PER_CHARACTER)
    side = (width - grid_width) / 2
    height = rows * CELL_INCHES + title_inches + MARGIN_INCHES
    figure = Figure(figsize=(width, height), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    # Fixed margins in inches (constrained layout costs seconds at 100 cells): each cell is
    # an IMAGE_INCHES square image, the rest of the cell holds its caption and the gap.
    gap = CELL_INCHES - IMAGE_INCHES
    axes = figure.subplots(rows, cols, squeeze=False, gridspec_kw=dict(
        left=(side + gap / 2) / width, right=1 - (side + gap / 2) / width,
        bottom=gap / height,  # the last row's captions
        top=1 - (title_inches + MARGIN_INCHES) / height,
        wspace=gap / IMAGE_INCHES, hspace=gap / IMAGE_INCHES))  # matplotlib wants fractions of an image
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.set_axis_off()
            continue
        ax.imshow(images[i], cmap="binary", vmin=0, vmax=brightest)
        ax.set_xlabel(_class_name(labels[i], class_names), fontsize=CAPTION_POINTS, labelpad=2)
    if title:
        figure.suptitle(title, fontsize=CAPTION_POINTS * 1.5, y=1 - MARGIN_INCHES / height, va="top")

    canvas.draw()
    # Everything drawn is grey, so one channel loses nothing and makes the file 3-4 times smaller.
    grey = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).convert("L")
    with atomic_write(path, "wb") as f:
        grey.save(f, format="PNG", optimize=True)
    return path


def _class_name(label, class_names) -> str:
    label = int(label)
    return class_names[label] if 0 <= label < len(class_names) else f"class {label}"
