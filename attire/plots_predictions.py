"""Pictures of a model's predictions: grids marked right or wrong, the most confident mistakes,
and probability bars for single images (dataset images or your own photos).

Drawn like attire.plots: on matplotlib's Agg canvas, without pyplot.
"""

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image, ImageOps

from attire.data import CLASS_NAMES
from attire.plots import (CAPTION_POINTS, MARGIN_INCHES, TITLE_INCHES, caption_above, caption_below, check_batch,
                          check_grid, class_name, draw_frame, draw_image, grid_figure, new_figure, save_png)

# A prediction cell: "Correct" above the image, "T-shirt/top → Ankle boot (100%)" below it.
# That caption, the longest possible, is 1.77 inches wide at 8 points.
PREDICTION_CELL = (2.0, 1.85)      # inches, width and height
PREDICTION_IMAGE_INCHES = 1.25
PREDICTION_ABOVE_INCHES = 0.25     # room for "Correct" / "Wrong"
PREDICTION_CAPTION_POINTS = 8

RIGHT_COLOUR = "#1a7f37"    # green: a right prediction, or the true class
WRONG_COLOUR = "#cf222e"    # red: a wrong prediction
UNKNOWN_COLOUR = "#0969da"  # blue: the prediction when the true class is not known
BAR_COLOUR = "#afb8c1"      # grey: the other classes


# ---------------------------------------------------------------- grids of predictions

def prediction_grid(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                    path: str | os.PathLike, rows: int = 5, cols: int = 5,
                    title: str | None = "Test predictions", class_names=CLASS_NAMES) -> Path:
    """Draw the first `rows * cols` images, each titled "Correct" (green) or "Wrong" (red), with
    "true → predicted (probability)" below it.

    `probabilities` is (N, classes), for example the softmax of a model's logits; pick the
    images to show (the first ones, a random sample...) by slicing all three arrays alike.
    """
    images, labels, probabilities = check_batch(images, labels, probabilities)
    check_grid(rows, cols)
    figure, sheet, cells = grid_figure(rows, cols, PREDICTION_CELL, PREDICTION_IMAGE_INCHES, title,
                                       above=PREDICTION_ABOVE_INCHES)
    for image, label, image_probabilities, cell in zip(images, labels, probabilities, cells):
        predicted = int(np.argmax(image_probabilities))
        right = predicted == int(label)
        colour = RIGHT_COLOUR if right else WRONG_COLOUR
        draw_image(sheet, image, cell)
        draw_frame(sheet, cell, colour, width_points=2)  # right and wrong stand out at a glance
        caption_above(sheet, cell, "Correct" if right else "Wrong", CAPTION_POINTS, color=colour,
                      fontweight="bold")
        caption_below(sheet, cell, f"{class_name(label, class_names)} → {class_name(predicted, class_names)} "
                                   f"({image_probabilities[predicted]:.0%})", PREDICTION_CAPTION_POINTS)
    return save_png(figure, path)


def confident_mistakes(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                       path: str | os.PathLike, rows: int = 3, cols: int = 5,
                       title: str | None = "The most confident mistakes", class_names=CLASS_NAMES) -> Path:
    """Draw the wrongly predicted images the model was surest of, surest first, as prediction_grid does.

    With no mistakes at all the picture says so instead of staying blank.
    """
    images, labels, probabilities = check_batch(images, labels, probabilities)
    check_grid(rows, cols)
    predicted = probabilities.argmax(1)
    wrong = np.flatnonzero(predicted != labels)
    if len(wrong) == 0:
        figure = new_figure(6, 1.4)
        if title:
            figure.suptitle(title, fontsize=CAPTION_POINTS * 1.5, y=1 - MARGIN_INCHES / 1.4, va="top")
        figure.text(0.5, 0.4, f"No mistakes on these {len(images):,} images", ha="center", va="center",
                    fontsize=CAPTION_POINTS * 1.3, color=RIGHT_COLOUR)
        return save_png(figure, path)
    surest = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
    shown = surest[:rows * cols]
    # No empty rows or columns when there are few mistakes.
    cols = min(cols, len(shown))
    rows = min(rows, -(-len(shown) // cols))
    return prediction_grid(images[shown], labels[shown], probabilities[shown], path, rows, cols,
                           title, class_names)


# ---------------------------------------------------------------- probability bars

BARS_INCHES = (3.2, 2.4)   # the bar chart, without its class-name labels
NAMES_INCHES = 1.0         # the class names left of the bars
VIEW_INCHES = 1.8          # an image beside its bars


def probability_bars(view: np.ndarray, probabilities, path: str | os.PathLike,
                     true_label: int | None = None, photo: Image.Image | None = None,
                     title: str | None = None, class_names=CLASS_NAMES) -> Path:
    """One image beside a bar chart of its class probabilities (the tutorial's plot_image and
    plot_value_array), into a PNG at `path`.

    `view` is the (28, 28) image the model saw and `probabilities` its (classes,) probabilities.
    With `true_label` the predicted bar is green when right, red when wrong, and the true
    class is green; without it (a photo of your own) the predicted bar is blue. `photo`, the
    original picture the view was made from, is drawn to the left of the view.
    """
    view, probabilities = np.asarray(view), np.asarray(probabilities, dtype=float)
    if view.ndim != 2 or probabilities.shape != (len(class_names),):
        raise ValueError(f"expected one image of shape (H, W) and {len(class_names)} probabilities, "
                         f"got {view.shape} and {probabilities.shape}")
    n_images = 2 if photo is not None else 1
    width = n_images * (VIEW_INCHES + 0.3) + NAMES_INCHES + BARS_INCHES[0] + 0.5
    height = BARS_INCHES[1] + 0.9 + (TITLE_INCHES if title else 0)
    figure = new_figure(width, height)
    top = (TITLE_INCHES if title else 0) + 0.45
    x = 0.2
    if photo is not None:
        photo_ax = inch_axes(figure, x, top, VIEW_INCHES, VIEW_INCHES)
        draw_photo(photo_ax, photo)
        x += VIEW_INCHES + 0.3
    view_ax = inch_axes(figure, x, top, VIEW_INCHES, VIEW_INCHES)
    bars_ax = inch_axes(figure, x + VIEW_INCHES + 0.2 + NAMES_INCHES, top - 0.15, *BARS_INCHES)
    draw_probability_pair(view_ax, bars_ax, view, probabilities, true_label, class_names)
    if photo is not None:
        view_ax.text(0.5, -0.06, "what the model sees (28×28)", transform=view_ax.transAxes,
                     ha="center", va="top", fontsize=PREDICTION_CAPTION_POINTS, color="#57606a")
    if title:
        figure.suptitle(title, fontsize=CAPTION_POINTS * 1.5, y=1 - MARGIN_INCHES / height, va="top")
    return save_png(figure, path)


def probability_bars_grid(images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray,
                          path: str | os.PathLike, cols: int = 2,
                          title: str | None = "Class probabilities", class_names=CLASS_NAMES) -> Path:
    """probability_bars for several images with known classes, `cols` image-and-bars pairs a row."""
    images, labels, probabilities = check_batch(images, labels, probabilities)
    check_grid(1, cols)
    if len(images) == 0:
        raise ValueError("probability_bars_grid needs at least one image")
    rows = -(-len(images) // cols)
    pair_width = VIEW_INCHES + 0.2 + NAMES_INCHES + BARS_INCHES[0] + 0.5
    row_height = BARS_INCHES[1] + 0.8
    title_inches = TITLE_INCHES if title else 0.0
    figure = new_figure(cols * pair_width + 0.2, rows * row_height + title_inches + 0.1)
    for i in range(len(images)):
        x = 0.2 + (i % cols) * pair_width
        top = title_inches + (i // cols) * row_height + 0.45
        view_ax = inch_axes(figure, x, top, VIEW_INCHES, VIEW_INCHES)
        bars_ax = inch_axes(figure, x + VIEW_INCHES + 0.2 + NAMES_INCHES, top - 0.15, *BARS_INCHES)
        draw_probability_pair(view_ax, bars_ax, images[i], probabilities[i], labels[i], class_names)
    if title:
        figure.suptitle(title, fontsize=CAPTION_POINTS * 1.5, y=1 - MARGIN_INCHES / figure.get_figheight(),
                        va="top")
    return save_png(figure, path)


def inch_axes(figure: Figure, left: float, top: float, width: float, height: float):
    """Axes placed in inches from the figure's top-left corner."""
    figure_width, figure_height = figure.get_size_inches()
    return figure.add_axes((left / figure_width, 1 - (top + height) / figure_height,
                            width / figure_width, height / figure_height))


def draw_photo(ax, photo: Image.Image) -> None:
    photo = ImageOps.exif_transpose(photo).convert("RGB")
    photo.thumbnail((400, 400))  # drawn under 2 inches wide: more pixels only cost time
    ax.imshow(np.asarray(photo))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, -0.06, "your photo", transform=ax.transAxes, ha="center", va="top",
            fontsize=PREDICTION_CAPTION_POINTS, color="#57606a")


def draw_probability_pair(view_ax, bars_ax, view, probabilities, true_label, class_names) -> None:
    predicted = int(np.argmax(probabilities))
    known = true_label is not None
    right = known and predicted == int(true_label)
    colour = UNKNOWN_COLOUR if not known else RIGHT_COLOUR if right else WRONG_COLOUR
    draw_image(view_ax, view)
    view_ax.set_xticks([])
    view_ax.set_yticks([])
    heading = f"{class_name(predicted, class_names)} {probabilities[predicted]:.0%}"
    if known:
        heading = f"{'Correct' if right else 'Wrong'}: {heading}"
        view_ax.set_xlabel(f"true: {class_name(true_label, class_names)}",
                           fontsize=PREDICTION_CAPTION_POINTS + 1, labelpad=3)
    view_ax.set_title(heading, color=colour, fontsize=CAPTION_POINTS, fontweight="bold", pad=4)

    positions = np.arange(len(class_names))
    colours = [BAR_COLOUR] * len(class_names)
    if known:
        colours[int(true_label)] = RIGHT_COLOUR
    colours[predicted] = colour
    bars_ax.barh(positions, probabilities, color=colours, height=0.7)
    bars_ax.set_xlim(0, 1.18)  # room for "100%" after a full bar
    bars_ax.set_ylim(len(class_names) - 0.5, -0.5)  # the first class at the top
    bars_ax.set_yticks(positions, class_names, fontsize=PREDICTION_CAPTION_POINTS)
    bars_ax.set_xticks([0, 0.5, 1], ["0", "50%", "100%"], fontsize=PREDICTION_CAPTION_POINTS - 1)
    bars_ax.set_xlabel("probability", fontsize=PREDICTION_CAPTION_POINTS)
    for position, probability in zip(positions, probabilities):
        if probability >= 0.005:
            bars_ax.text(probability + 0.02, position, f"{probability:.0%}", va="center",
                         fontsize=PREDICTION_CAPTION_POINTS - 1)
    for label in bars_ax.get_yticklabels()[predicted:predicted + 1]:
        label.set_color(colour)
        label.set_fontweight("bold")
    if known and not right:
        true_tick = bars_ax.get_yticklabels()[int(true_label)]
        true_tick.set_color(RIGHT_COLOUR)
        true_tick.set_fontweight("bold")
    for side in ("top", "right"):
        bars_ax.spines[side].set_visible(False)
