"""Charts of a training run: learning curves, confusion matrix, per-class accuracy, embedding map.

Drawn like attire.plots (Agg canvas, no pyplot) from plain numbers, so that they can be
tested without training anything: attire.report feeds them a run's history, metrics and
the model's features.
"""

import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps

from attire.data import CLASS_NAMES
from attire.plots import new_figure, save_png

TITLE_POINTS = 13
LABEL_POINTS = 10
CELL_POINTS = 8          # the numbers in the confusion matrix's cells
TRAIN_COLOUR = "#0969da"
VALIDATION_COLOUR = "#bc4c00"
MATRIX_COLOURS = "Blues"
STRONG_COLOUR = "#2da44e"   # a class at or above the overall accuracy
WEAK_COLOUR = "#e16f24"     # a class below it
CLASS_COLOURS = "tab10"  # ten distinct colours, one per class
PCA_SAMPLE = 2000        # feature vectors that estimate the principal axes


# ---------------------------------------------------------------- learning curves

def learning_curves(history: list[dict], path: str | os.PathLike,
                    title: str | None = "Learning curves") -> Path:
    """Loss and accuracy per epoch, training and validation, in two panels.

    `history` is the rows of a run's history.csv: `epoch`, `train_loss`, `train_acc` and,
    when the run held out a validation split, `val_loss` and `val_acc` (None or "" when
    absent: then no validation lines are drawn).
    """
    if not history:
        raise ValueError("learning_curves needs at least one epoch of history")
    epochs = [int(row["epoch"]) for row in history]
    figure = new_figure(11, 4.2)
    loss_ax, accuracy_ax = figure.subplots(1, 2, gridspec_kw=dict(
        left=0.07, right=0.98, bottom=0.14, top=0.82 if title else 0.9, wspace=0.22))
    for ax, key, name in ((loss_ax, "loss", "Loss (cross-entropy)"), (accuracy_ax, "acc", "Accuracy")):
        plotted = False
        for split, colour, label in (("train", TRAIN_COLOUR, "training"),
                                     ("val", VALIDATION_COLOUR, "validation")):
            values = [as_number(row.get(f"{split}_{key}")) for row in history]
            if all(value is None for value in values):
                continue
            values = [np.nan if value is None else value for value in values]
            ax.plot(epochs, values, marker="o", color=colour, label=label)  # one epoch is a point
            plotted = True
        ax.set_title(name, fontsize=LABEL_POINTS + 1)
        ax.set_xlabel("epoch", fontsize=LABEL_POINTS)
        ax.set_ylabel(name.split(" ")[0].lower(), fontsize=LABEL_POINTS)
        ax.set_xticks(epoch_ticks(epochs))
        ax.grid(alpha=0.3)
        if plotted:
            ax.legend(fontsize=LABEL_POINTS - 1)
    accuracy_ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    if title:
        figure.suptitle(title, fontsize=TITLE_POINTS)
    return save_png(figure, path)


def as_number(value) -> float | None:
    """A history value as a float: history.csv leaves validation columns empty without a validation split."""
    if value is None or value == "":
        return None
    return float(value)


def epoch_ticks(epochs: list[int]) -> list[int]:
    step = max(1, int(np.ceil(len(epochs) / 10)))  # at most about ten whole-number ticks
    return list(range(min(epochs), max(epochs) + 1, step))


# ---------------------------------------------------------------- confusion matrix

def confusion_matrix(matrix, path: str | os.PathLike, class_names=CLASS_NAMES,
                     title: str | None = "Confusion matrix (rows: true class, columns: predicted)") -> Path:
    """Two panels: the counts, and each row divided by its total (so the diagonal is each class's recall)."""
    counts = np.asarray(matrix)
    n_classes = len(class_names)
    if counts.shape != (n_classes, n_classes):
        raise ValueError(f"expected a {n_classes}x{n_classes} confusion matrix, got shape {counts.shape}")
    totals = counts.sum(1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    figure = new_figure(14, 7.2)
    count_ax, share_ax = figure.subplots(1, 2, gridspec_kw=dict(
        left=0.085, right=0.99, bottom=0.17, top=0.88 if title else 0.94, wspace=0.06))
    draw_matrix(count_ax, counts, counts / max(counts.max(), 1), lambda c: f"{c:d}", class_names)
    draw_matrix(share_ax, shares, shares, lambda s: f"{s:.0%}" if s >= 0.01 else "<1%", class_names)
    count_ax.set_title("number of test images", fontsize=LABEL_POINTS + 1)
    share_ax.set_title("share of each true class", fontsize=LABEL_POINTS + 1)
    count_ax.set_ylabel("true class", fontsize=LABEL_POINTS)
    share_ax.set_yticklabels([])  # the left panel names the rows for both
    if title:
        figure.suptitle(title, fontsize=TITLE_POINTS)
    return save_png(figure, path)


def draw_matrix(ax, values, shading, format_cell, class_names) -> None:
    ticks = np.arange(len(class_names))
    ax.imshow(shading, cmap=MATRIX_COLOURS, vmin=0, vmax=1)
    ax.set_xticks(ticks, class_names, rotation=40, ha="right", rotation_mode="anchor", fontsize=LABEL_POINTS - 1)
    ax.set_yticks(ticks, class_names, fontsize=LABEL_POINTS - 1)
    ax.set_xlabel("predicted class", fontsize=LABEL_POINTS)
    for (row, col), value in np.ndenumerate(values):
        if value == 0:
            continue  # empty cells stay blank, so the confusions stand out
        ink = "white" if shading[row, col] > 0.55 else "black"  # readable on dark and light blue
        ax.text(col, row, format_cell(value), ha="center", va="center", fontsize=CELL_POINTS, color=ink)


# ---------------------------------------------------------------- per-class accuracy

def per_class_accuracy(recalls, path: str | os.PathLike, class_names=CLASS_NAMES,
                       overall_accuracy: float | None = None,
                       title: str | None = "Accuracy per class (recall), best first") -> Path:
    """Horizontal bars of each class's recall (share of its images recognised), sorted, best on top;
    the classes below `overall_accuracy` (dashed line) in orange."""
    recalls = np.asarray(recalls, dtype=float)
    if recalls.shape != (len(class_names),):
        raise ValueError(f"expected {len(class_names)} recalls, got shape {recalls.shape}")
    order = np.argsort(-recalls, kind="stable")
    figure = new_figure(8, 4.6)
    ax = figure.add_axes((0.17, 0.12, 0.78, 0.76 if title else 0.84))
    threshold = overall_accuracy if overall_accuracy is not None else recalls.mean()
    colours = [STRONG_COLOUR if recall >= threshold else WEAK_COLOUR for recall in recalls[order]]
    positions = np.arange(len(order))
    ax.barh(positions, recalls[order], color=colours, height=0.7)
    ax.set_yticks(positions, [class_names[i] for i in order], fontsize=LABEL_POINTS)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, 1.1)  # room for the value after a full bar
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.set_xlabel("share of the class's test images predicted as that class", fontsize=LABEL_POINTS)
    for position, recall in zip(positions, recalls[order]):
        # On a white box above the dashed line, which would otherwise cross the numbers near it.
        ax.text(recall + 0.01, position, f"{recall:.1%}", va="center", fontsize=LABEL_POINTS - 1, zorder=3,
                bbox=dict(facecolor="white", edgecolor="none", pad=1))
    if overall_accuracy is not None:
        ax.axvline(overall_accuracy, color="#24292f", linestyle="--", linewidth=1, zorder=2)
        ax.text(overall_accuracy, -0.75, f"overall {overall_accuracy:.1%}", ha="center", va="bottom",
                fontsize=LABEL_POINTS - 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        figure.suptitle(title, fontsize=TITLE_POINTS, y=0.98)
    return save_png(figure, path)


# ---------------------------------------------------------------- embedding map

def pca_2d(features) -> tuple[np.ndarray, np.ndarray]:
    """The features (N, D) projected on their first two principal components: ((N, 2), share of
    the variance each component explains (2,))."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"expected at least two feature vectors of shape (N, D), got {features.shape}")
    centred = features - features.mean(0)
    # The principal axes are the eigenvectors of the (D, D) covariance, far cheaper than an SVD
    # of (N, D) features; a fixed sample of rows estimates it well enough for a picture.
    sample = centred[np.random.default_rng(0).permutation(len(centred))[:PCA_SAMPLE]]
    variance, axes = np.linalg.eigh(sample.T @ sample)     # ascending eigenvalues
    variance, axes = np.clip(variance[::-1], 0, None), axes[:, ::-1]
    explained = variance[:2] / max(variance.sum(), np.finfo(float).tiny)
    points = centred @ axes[:, :2]
    if points.shape[1] < 2:  # one-dimensional features: a flat second axis
        points = np.column_stack([points, np.zeros(len(points))])
        explained = np.append(explained, 0.0)
    return points, explained


def embedding_map(features, labels, path: str | os.PathLike, class_names=CLASS_NAMES,
                  title: str | None = "What the network sees: its last-layer features, projected to 2-D") -> Path:
    """A scatter of the features (N, D) projected with PCA, one colour per class, with a legend."""
    labels = np.asarray(labels)
    points, explained = pca_2d(features)
    if labels.shape != (len(points),):
        raise ValueError(f"expected {len(points)} labels, got shape {labels.shape}")
    figure = new_figure(10, 7)
    ax = figure.add_axes((0.08, 0.09, 0.66, 0.8 if title else 0.86))
    palette = colormaps[CLASS_COLOURS](np.arange(len(class_names)) % 10)   # (classes, RGBA)
    # Shuffled drawing order, so that no class is hidden under the ones drawn after it.
    order = np.random.default_rng(0).permutation(len(points))
    marker_area = float(np.clip(60_000 / len(points), 3, 25))  # points^2: a few hundred points get big dots
    ax.scatter(points[order, 0], points[order, 1], c=palette[labels[order]], s=marker_area, alpha=0.5,
               linewidths=0)
    handles = [ax.scatter([], [], color=palette[i], s=40, label=name) for i, name in enumerate(class_names)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=LABEL_POINTS,
              title="true class", title_fontsize=LABEL_POINTS, frameon=False)
    ax.set_xlabel(f"first principal component ({explained[0]:.0%} of the variance)", fontsize=LABEL_POINTS)
    ax.set_ylabel(f"second principal component ({explained[1]:.0%})", fontsize=LABEL_POINTS)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        figure.suptitle(f"{title}\n{len(points):,} images; nearby points look alike to the network",
                        fontsize=TITLE_POINTS - 1, y=0.98)
    return save_png(figure, path)
