"""Pictures of images, written as PNG files: the sample grid, and the drawing helpers that
attire.plots_predictions and attire.plots_run share.

Figures are built on matplotlib's Agg canvas directly rather than through pyplot:
no global state, no GUI, and safe to call from a server or a notebook alike.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
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
    # Median cut keeps white exactly white and the mean error under 0.1 of a level; the faster
    # octree quantiser tints a white page's background (pale blue beside a blue colour map).
    return picture.quantize(256, method=Image.Quantize.MEDIANCUT)


@dataclass
class Cell:
    """Where one image of a grid goes, in inches from the figure's top-left corner."""
    left: float
    top: float
    size: float     # the image is a square of this side

    @property
    def centre(self) -> float:
        return self.left + self.size / 2

    @property
    def bottom(self) -> float:
        return self.top + self.size


def grid_figure(rows: int, cols: int, cell: tuple[float, float], image_inches: float,
                title: str | None, above: float = 0.0):
    """A figure for a titled grid of image cells, centred: (figure, sheet, cells in reading order).

    Everything is drawn on `sheet`, one axes covering the figure in inches, y downwards:
    a pair of axes per cell costs three times as long to draw, and a layout engine seconds.
    `above` is room for a title over each image, the rest of the cell below it.
    """
    title_inches = TITLE_INCHES if title else 0.0
    cell_width, cell_height = cell
    grid_width = cols * cell_width
    # A narrow grid gets a wider canvas so that its title is not cut off; the grid stays centred.
    width = max(grid_width + 2 * MARGIN_INCHES, len(title or "") * TITLE_INCHES_PER_CHARACTER)
    height = rows * cell_height + title_inches + MARGIN_INCHES
    figure = new_figure(width, height)
    sheet = figure.add_axes((0, 0, 1, 1))
    sheet.set_axis_off()
    sheet.set_xlim(0, width)
    sheet.set_ylim(height, 0)
    sheet.set_autoscale_on(False)
    left, top = (width - grid_width) / 2, title_inches + MARGIN_INCHES
    cells = [Cell(left + col * cell_width + (cell_width - image_inches) / 2, top + row * cell_height + above,
                  image_inches) for row in range(rows) for col in range(cols)]
    if title:
        figure.suptitle(title, fontsize=CAPTION_POINTS * 1.5, y=1 - MARGIN_INCHES / height, va="top")
    return figure, sheet, cells


def draw_image(ax, image: np.ndarray, cell: Cell | None = None) -> None:
    """An image filling `ax`, or in `cell` of a grid_figure's sheet."""
    # White is 0 and black the maximum under the binary map, as in the tutorial.
    brightest = 255 if image.dtype == np.uint8 else 1.0
    extent = None if cell is None else (cell.left, cell.left + cell.size, cell.bottom, cell.top)
    ax.imshow(image, cmap="binary", vmin=0, vmax=brightest, extent=extent, interpolation="nearest",
              aspect="auto" if cell else "equal")


def draw_frame(sheet, cell: Cell, colour: str = "black", width_points: float = 0.8) -> None:
    sheet.add_patch(Rectangle((cell.left, cell.top), cell.size, cell.size, fill=False, edgecolor=colour,
                              linewidth=width_points))


def caption_below(sheet, cell: Cell, text: str, points: float, **style) -> None:
    sheet.text(cell.centre, cell.bottom + 2 / 72, text, ha="center", va="top", fontsize=points, **style)


def caption_above(sheet, cell: Cell, text: str, points: float, **style) -> None:
    sheet.text(cell.centre, cell.top - 3 / 72, text, ha="center", va="bottom", fontsize=points, **style)


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
    figure, sheet, cells = grid_figure(rows, cols, (CELL_INCHES, CELL_INCHES), IMAGE_INCHES, title)
    for image, label, cell in zip(images, labels, cells):  # cells beyond the images stay empty
        draw_image(sheet, image, cell)
        draw_frame(sheet, cell)
        caption_below(sheet, cell, class_name(label, class_names), CAPTION_POINTS)
    # Everything drawn is grey, so one channel loses nothing.
    return save_png(figure, path, grey=True)


