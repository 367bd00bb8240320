"""Pictures of predictions and of runs, from plain arrays: sizes, colours, order, no overlapping text."""

import itertools

import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image

from attire import plots, plots_predictions, plots_run
from attire.data import CLASS_NAMES

GREEN, RED, BLUE = (0x1A, 0x7F, 0x37), (0xCF, 0x22, 0x2E), (0x09, 0x69, 0xDA)


@pytest.fixture
def figures(monkeypatch):
    """The figures the picture functions draw, caught on their way to the PNG file."""
    caught = []

    def catch(figure, path, grey=False):
        caught.append(figure)
        return plots.save_png(figure, path, grey)

    for module in (plots_predictions, plots_run):
        monkeypatch.setattr(module, "save_png", catch)
    return caught


def images_and_labels(n=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    return images, np.arange(n) % 10


def one_hot(predicted, confidence=0.9):
    probabilities = np.full((len(predicted), 10), (1 - confidence) / 9)
    probabilities[np.arange(len(predicted)), predicted] = confidence
    return probabilities


def read_png(path):
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture.convert("RGB"))


def share_of_colour(pixels, colour, tolerance=12):
    return (np.abs(pixels.astype(int) - colour).max(-1) <= tolerance).mean()


def texts(figure):
    """The horizontal texts drawn, with their boxes in pixels."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in figure.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_rotation() == 0
            and t not in undrawn_tick_labels(figure)]


def undrawn_tick_labels(figure) -> set:
    # An axis keeps tick labels beyond its limits ("120%" on a 0-110% axis), or all of them when
    # it is switched off, visible but not drawn.
    every, drawn = set(), set()
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            every.update(label for tick in axis.get_major_ticks() for label in (tick.label1, tick.label2))
            if ax.axison:
                drawn.update(label for tick in axis._update_ticks() for label in (tick.label1, tick.label2))
    return every - drawn


def assert_readable(figure):
    """No two horizontal texts overlap, and none sticks out of the picture."""
    boxes = texts(figure)
    width, height = figure.canvas.get_width_height()
    for text, box in boxes:
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1, \
            f"{text!r} is cut off"
    for (text_a, a), (text_b, b) in itertools.combinations(boxes, 2):
        assert not a.shrunk(0.98, 0.9).overlaps(b.shrunk(0.98, 0.9)), f"{text_a!r} overlaps {text_b!r}"


# ---------------------------------------------------------------- predictions

def test_prediction_grid_marks_right_green_and_wrong_red(tmp_path, figures):
    images, labels = images_and_labels(6)
    predicted = labels.copy()
    predicted[:2] = (labels[:2] + 1) % 10  # two mistakes
    path = plots_predictions.prediction_grid(images, labels, one_hot(predicted), tmp_path / "p.png", 2, 3)
    pixels = read_png(path)
    assert pixels.shape == (2 * 185 + 50, 3 * 200 + 20, 3)  # 2 x 1.85-inch rows, title, margins
    assert share_of_colour(pixels, GREEN) > 0.002 and share_of_colour(pixels, RED) > 0.001
    captions = [t for t, _ in texts(figures[0])]
    assert "T-shirt/top → Trouser (90%)" in captions and captions.count("Wrong") == 2
    assert_readable(figures[0])


def test_the_longest_captions_fit_their_cells(tmp_path, figures):
    images = np.zeros((5, 28, 28), np.uint8)
    labels = np.zeros(5, int)  # "T-shirt/top → T-shirt/top (100%)", the widest caption there is
    plots_predictions.prediction_grid(images, labels, one_hot(labels, 1.0), tmp_path / "p.png", 1, 5)
    assert_readable(figures[0])


def test_confident_mistakes_shows_the_surest_first(tmp_path, figures):
    images, labels = images_and_labels(10)
    probabilities = one_hot((labels + 1) % 10, confidence=0.5)
    probabilities[7] = one_hot([0], confidence=0.99)[0]    # the surest mistake (true class 7)
    probabilities[3] = one_hot([3], confidence=0.99)[0]    # right, however sure: not a mistake
    plots_predictions.confident_mistakes(images, labels, probabilities, tmp_path / "m.png", rows=1, cols=3)
    captions = [t for t, _ in texts(figures[0]) if "→" in t]
    assert captions[0] == "Sneaker → T-shirt/top (99%)" and len(captions) == 3
    assert_readable(figures[0])


def test_no_mistakes_is_said_not_left_blank(tmp_path, figures):
    images, labels = images_and_labels(4)
    path = plots_predictions.confident_mistakes(images, labels, one_hot(labels), tmp_path / "m.png")
    assert any("No mistakes on these 4 images" in t for t, _ in texts(figures[0]))
    assert read_png(path).shape[1] == 600


def test_probability_bars_for_a_photo_without_a_known_class(tmp_path, figures):
    view = np.zeros((28, 28), np.uint8)
    photo = Image.new("RGB", (640, 480), (200, 120, 40))
    probabilities = one_hot([4], 0.7)[0]
    path = plots_predictions.probability_bars(view, probabilities, tmp_path / "b.png", photo=photo,
                                              title="photo.jpg")
    pixels = read_png(path)
    assert share_of_colour(pixels, BLUE) > 0.005          # the predicted bar: truth unknown
    assert share_of_colour(pixels, GREEN) == 0 and share_of_colour(pixels, RED) == 0
    assert share_of_colour(pixels, (200, 120, 40)) > 0.02  # the photo itself
    words = [t for t, _ in texts(figures[0])]
    assert "Coat 70%" in words and "your photo" in words and "what the model sees (28×28)" in words
    assert_readable(figures[0])


def test_probability_bars_mark_a_wrong_prediction_red_and_the_truth_green(tmp_path, figures):
    path = plots_predictions.probability_bars(np.zeros((28, 28)), one_hot([2], 0.6)[0], tmp_path / "b.png",
                                              true_label=6)
    pixels = read_png(path)
    assert share_of_colour(pixels, RED) > 0.005 and share_of_colour(pixels, GREEN) > 0.0005
    assert "Wrong: Pullover 60%" in [t for t, _ in texts(figures[0])]
    assert_readable(figures[0])


def test_probability_bars_grid_pairs_images_with_bars(tmp_path, figures):
    images, labels = images_and_labels(5)
    path = plots_predictions.probability_bars_grid(images, labels, one_hot(labels), tmp_path / "g.png", cols=2)
    height, width, _ = read_png(path).shape
    assert width > 1000 and height > 3 * 250  # three rows of pairs
    assert_readable(figures[0])


@pytest.mark.parametrize("call, message", [
    (lambda p: plots_predictions.probability_bars(np.zeros((28, 28)), np.ones(9) / 9, p), "10 probabilities"),
    (lambda p: plots_predictions.prediction_grid(np.zeros((3, 28, 28)), np.zeros(3), np.ones((2, 10)), p),
     r"probabilities of shape \(N, classes\) for 3 images"),
    (lambda p: plots_run.confusion_matrix(np.zeros((9, 9)), p), "10x10 confusion matrix"),
    (lambda p: plots_run.learning_curves([], p), "at least one epoch"),
    (lambda p: plots_run.per_class_accuracy([0.5] * 3, p), "expected 10 recalls"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, call, message):
    with pytest.raises(ValueError, match=message):
        call(tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_pictures_are_png_files(tmp_path):
    with pytest.raises(ValueError, match="should end in .png"):
        plots.save_png(plots.new_figure(1, 1), tmp_path / "x.jpg")


# ---------------------------------------------------------------- runs

def history(epochs, validation=True):
    return [{"epoch": str(e), "train_loss": str(1 / e), "train_acc": str(1 - 0.4 / e),
             "val_loss": str(1.1 / e) if validation else "", "val_acc": str(1 - 0.5 / e) if validation else ""}
            for e in range(1, epochs + 1)]


@pytest.mark.parametrize("validation, lines_per_panel", [(True, 2), (False, 1)])
def test_learning_curves_draw_validation_only_when_there_is_some(tmp_path, figures, validation, lines_per_panel):
    path = plots_run.learning_curves(history(30, validation), tmp_path / "c.png")
    assert read_png(path).shape == (420, 1100, 3)
    panels = [ax for ax in figures[0].axes if ax.get_lines()]
    assert [len(ax.get_lines()) for ax in panels] == [lines_per_panel] * 2
    assert len(panels[0].get_xticks()) <= 11  # 30 epochs do not crowd the axis
    assert_readable(figures[0])


def test_confusion_matrix_writes_counts_and_shares(tmp_path, figures):
    matrix = np.diag(np.full(10, 90)) + 1  # ten mistakes per class, one to each other class
    plots_run.confusion_matrix(matrix, tmp_path / "m.png")
    words = [t for t, _ in texts(figures[0])]
    assert words.count("91") == 10 and words.count("1") == 90    # counts
    assert words.count("91%") == 10 and words.count("1%") == 90  # shares of each row
    assert "true class" not in words  # rotated, like the class names on the x axes
    assert sum(1 for ax in figures[0].axes for label in ax.get_yticklabels() if label.get_text()) == 10
    assert_readable(figures[0])


def test_per_class_accuracy_is_sorted_best_first(tmp_path, figures):
    recalls = np.linspace(0.5, 0.95, 10)
    plots_run.per_class_accuracy(recalls, tmp_path / "a.png", overall_accuracy=0.7)
    names = [label.get_text() for label in figures[0].axes[0].get_yticklabels()]
    assert names == list(reversed(CLASS_NAMES))
    assert_readable(figures[0])


def test_pca_matches_scikit_learn():
    from sklearn.decomposition import PCA

    features = np.random.default_rng(0).normal(size=(500, 20)) * np.linspace(5, 0.1, 20)
    points, explained = plots_run.pca_2d(features)
    reference = PCA(2).fit(features)
    expected = reference.transform(features)
    signs = np.sign((points * expected).sum(0))  # each axis is defined up to its sign
    np.testing.assert_allclose(points * signs, expected, atol=1e-8)
    np.testing.assert_allclose(explained, reference.explained_variance_ratio_)


def test_embedding_map_names_every_class(tmp_path, figures):
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    features = rng.normal(size=(300, 16)) + np.eye(10, 16)[labels] * 5
    path = plots_run.embedding_map(features, labels, tmp_path / "e.png")
    assert read_png(path).shape == (700, 1000, 3)
    legend = [t.get_text() for t in figures[0].axes[0].get_legend().get_texts()]
    assert legend == list(CLASS_NAMES)
    assert_readable(figures[0])
