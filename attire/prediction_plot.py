"""The picture of one prediction: the photo, the model's 28×28 view of it, and the class probabilities.

`probability_bars` comes from attire.plots when that module has it (it is being written
on the report branch, with this signature); until then the small stand-in below draws
the same three panels. Once attire.plots has it, the stand-in can go.
"""

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from attire.data import CLASS_NAMES
from attire.fileio import atomic_write

PANEL_INCHES = 1.8          # the photo and the view are squares this wide
BARS_INCHES = (2.6, 1.8)    # the bar chart, without its class-name labels
NAMES_INCHES = 1.0          # room for the class names left of the bars
GAP_INCHES = 0.3
TOP_INCHES = 0.55           # the title above everything
BOTTOM_INCHES = 0.45        # the captions under the panels
POINTS = 8
PREDICTED_COLOUR = "#0969da"  # blue: the model's choice when the true class is not known
RIGHT_COLOUR = "#1a7f37"
WRONG_COLOUR = "#cf222e"
BAR_COLOUR = "#afb8c1"
DPI = 100


def probability_bars_stand_in(view: np.ndarray, probabilities, path: str | os.PathLike,
                              true_label: int | None = None, photo: Image.Image | None = None,
                              title: str | None = None, class_names=CLASS_NAMES) -> Path:
    """`photo` (if given), the (28, 28) `view` the model saw, and bars of its (classes,) `probabilities`,
    into a PNG at `path`. With `true_label` the bars say right (green) or wrong (red)."""
    view, probabilities = np.asarray(view), np.asarray(probabilities, dtype=float)
    if view.ndim != 2 or probabilities.shape != (len(class_names),):
        raise ValueError(f"expected one image of shape (H, W) and {len(class_names)} probabilities, "
                         f"got {view.shape} and {probabilities.shape}")
    panels = [photo] if photo is not None else []
    width = GAP_INCHES + (len(panels) + 1) * (PANEL_INCHES + GAP_INCHES) + NAMES_INCHES + BARS_INCHES[0] + GAP_INCHES
    height = TOP_INCHES + PANEL_INCHES + BOTTOM_INCHES
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)

    x = GAP_INCHES
    if photo is not None:
        ax = inch_axes(figure, x, TOP_INCHES, PANEL_INCHES, PANEL_INCHES)
        ax.imshow(np.asarray(photo.convert("RGB")))  # an "L" photo would get a false-colour map
        for spine in ax.spines.values():  # a light frame: where a white photo ends
            spine.set_edgecolor(BAR_COLOUR)
        caption(figure, x, "the photo")
        x += PANEL_INCHES + GAP_INCHES
    ax = inch_axes(figure, x, TOP_INCHES, PANEL_INCHES, PANEL_INCHES)
    ax.imshow(view, cmap="gray", vmin=0, vmax=255)  # as the model sees it: garment bright on black
    caption(figure, x, "what the model sees (28×28)")
    x += PANEL_INCHES + GAP_INCHES + NAMES_INCHES
    draw_bars(inch_axes(figure, x, TOP_INCHES, *BARS_INCHES), probabilities, true_label, class_names)

    predicted = int(probabilities.argmax())
    heading = f"{class_names[predicted]} {probabilities[predicted]:.0%}"
    figure.suptitle(f"{title}: {heading}" if title else heading, fontsize=POINTS + 3,
                    y=1 - 0.12 / height, va="top")
    return save_png(figure, path)


def inch_axes(figure: Figure, left: float, top: float, width: float, height: float):
    """Axes placed in inches from the figure's top-left corner, without ticks."""
    figure_width, figure_height = figure.get_size_inches()
    ax = figure.add_axes((left / figure_width, 1 - (top + height) / figure_height,
                          width / figure_width, height / figure_height))
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def caption(figure: Figure, left: float, text: str) -> None:
    """Under the panel at `left` inches, at the same height for every panel whatever its image's shape."""
    width, height = figure.get_size_inches()
    figure.text((left + PANEL_INCHES / 2) / width, 1 - (TOP_INCHES + PANEL_INCHES + 0.08) / height, text,
                ha="center", va="top", fontsize=POINTS, color="#57606a")


def draw_bars(ax, probabilities: np.ndarray, true_label: int | None, class_names) -> None:
    predicted = int(probabilities.argmax())
    colour = PREDICTED_COLOUR if true_label is None else RIGHT_COLOUR if predicted == true_label else WRONG_COLOUR
    colours = [BAR_COLOUR] * len(class_names)
    if true_label is not None:
        colours[int(true_label)] = RIGHT_COLOUR
    colours[predicted] = colour
    positions = np.arange(len(class_names))
    ax.barh(positions, probabilities, color=colours, height=0.7)
    ax.set_xlim(0, 1.22)  # room for "100%" after a full bar
    ax.set_ylim(len(class_names) - 0.5, -0.5)  # the first class at the top
    ax.set_yticks(positions, class_names, fontsize=POINTS)
    ax.set_xticks([0, 0.5, 1], ["0", "50%", "100%"], fontsize=POINTS - 1)
    for position, probability in zip(positions, probabilities):
        if probability >= 0.005:
            ax.text(probability + 0.02, position, f"{probability:.0%}", va="center", fontsize=POINTS - 1)
    ax.get_yticklabels()[predicted].set_color(colour)
    ax.get_yticklabels()[predicted].set_fontweight("bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def save_png(figure: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    figure.canvas.draw()
    picture = Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3])
    # An adaptive palette of 256 colours makes the file 3 times smaller. The fast octree
    # quantiser turns white into 254: snap near-white back, or the page shows a grey box.
    quantised = picture.quantize(256, method=Image.Quantize.FASTOCTREE)
    palette = np.asarray(quantised.getpalette(), np.uint8)
    palette[palette >= 252] = 255
    quantised.putpalette(palette.tolist())
    with atomic_write(path, "wb") as f:
        quantised.save(f, format="PNG")
    return path


try:  # the shared one, once the report branch has landed
    from attire.plots import probability_bars
except ImportError:
    probability_bars = probability_bars_stand_in


def save_prediction_picture(prediction, path: str | os.PathLike, class_names) -> Path:
    """The picture of one successful `attire.batch_predict.Prediction`."""
    return probability_bars(prediction.view, prediction.probabilities, path, photo=prediction.photo,
                            title=Path(prediction.path).name, class_names=class_names)
