"""Pictures of images, written as PNG files: the sample grid, and the drawing helpers that
attire.plots_predictions and attire.plots_run share.

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


# ---------------------------------------------------------------- shared helpers

def new_figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches on its own Agg canvas (no pyplot)."""
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: str | os.PathLike, grey: bool = False) -> Path:
    """Render `figure` into a PNG at `path`, atomically, with one byte a pixel: grey levels when
    `grey`, else a palette of 256 colours (plots have few colours; files 3 times smaller)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"pictures are written as PNG files; {path} should end in .png")
    figure.canvas.draw()
    picture = Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3])
    picture = picture.convert("L") if grey else to_palette(picture)
    with atomic_write(path, "wb") as f:
        picture.save(f, format="PNG", optimize=grey)  # optimising a palette image gains little, slowly
    return path


def to_palette(picture: Image.Image) -> Image.Image:
    # The fast octree quantiser is 5x quicker than median cut but turns white into 254:
    # snap near-white back, or every picture shows as a grey box on a white page.
    quantised = picture.quantize(256, method=Image.Quantize.FASTOCTREE)
    palette = np.asarray(quantised.getpalette(), np.uint8)
    palette[palette >= 252] = 255
    quantised.putpalette(palette.tolist())
    return quantised


def grid_axes(figure: Figure, rows: int, cols: int, cell: tuple[float, float], image_inches: float,
              left: float, top: float, above: float = 0.0) -> list:
    """Square image axes in a rows x cols grid of cells (inches from the figure's top-left corner).

    Placed by hand rather than by a layout engine: constrained layout costs seconds at 100 cells.
    """
    width, height = figure.get_size_inches()
    cell_width, cell_height = cell
    axes = []
    for row in range(rows):
        for col in range(cols):
            x = left + col * cell_width + (cell_width - image_inches) / 2
            y = top + row * cell_height + above + image_inches  # the image's bottom edge
            ax = figure.add_axes((x / width, 1 - y / height, image_inches / width, image_inches / height))
            ax.set_xticks([])
            ax.set_yticks([])
            axes.append(ax)
    return axes


def grid_figure(rows: int, cols: int, cell: tuple[float, float], image_inches: float,
                title: str | None, above: float = 0.0) -> tuple[Figure, list]:
    """A figure holding a titled grid of image cells, centred, and its axes in reading order."""
    title_inches = TITLE_INCHES if title else 0.0
    grid_width = cols * cell[0]
    # A narrow grid gets a wider canvas so that its title is not cut off; the grid stays centred.
    width = max(grid_width + 2 * MARGIN_INCHES, len(title or "") * TITLE_INCHES_PER_CHARACTER)
    height = rows * cell[1] + title_inches + MARGIN_INCHES
    figure = new_figure(width, height)
    axes = grid_axes(figure, rows, cols, cell, image_inches, left=(width - grid_width) / 2,
                     top=title_inches + MARGIN_INCHES, above=above)
    if title:
        figure.suptitle(title, fontsize=CAPTION_POINTS * 1.5, y=1 - MARGIN_INCHES / height, va="top")
    return figure, axes


def draw_image(ax, image: np.ndarray) -> None:
    # White is 0 and black the maximum under the binary map, as in the tutorial.
    brightest = 255 if image.dtype == np.uint8 else 1.0
    ax.imshow(image, cmap="binary", vmin=0, vmax=brightest)


def class_name(label, class_names=CLASS_NAMES) -> str:
    label = int(label)
    return class_names[label] if 0 <= label < len(class_names) else f"class {label}"


def check_batch(images, labels, probabilities=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"expected images of shape (N, H, W) and labels of shape (N,), "
                         f"got {images.shape} and {labels.shape}")
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=float)
        if probabilities.ndim != 2 or len(probabilities) != len(images):
            raise ValueError(f"expected probabilities of shape (N, classes) for {len(images)} images, "
                             f"got {probabilities.shape}")
    return images, labels, probabilities


def check_grid(rows: int, cols: int) -> None:
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be at least 1, got rows={rows}, cols={cols}")


# ---------------------------------------------------------------- grids of images

def sample_grid(images: np.ndarray, labels: np.ndarray, path: str | os.PathLike,
                rows: int = 10, cols: int = 10, title: str | None = "Fashion-MNIST samples",
                class_names=CLASS_NAMES) -> Path:
    """Draw the first `rows * cols` images, each with its class name below, into a PNG at `path`.

    `images` is (N, H, W), uint8 in 0..255 or floats in 0..1 (the tutorial's scaled
    images); `labels` is (N,) class numbers. With fewer than `rows * cols` images
    the remaining cells stay empty. Written atomically; returns the path.
    """
    images, labels = check_batch(images, labels)[:2]
    check_grid(rows, cols)
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"sample_grid writes PNG files; {path} should end in .png")
    figure, axes = grid_figure(rows, cols, (CELL_INCHES, CELL_INCHES), IMAGE_INCHES, title)
    for i, ax in enumerate(axes):
        if i >= len(images):
            ax.set_axis_off()
            continue
        draw_image(ax, images[i])
        ax.set_xlabel(class_name(labels[i], class_names), fontsize=CAPTION_POINTS, labelpad=2)
    # Everything drawn is grey, so one channel loses nothing.
    return save_png(figure, path, grey=True)


