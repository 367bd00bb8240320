"""`attire show`: a grid of sample images with their class names, as a PNG."""

import argparse

from attire.cli.data import add_data_options

MAX_CELLS_PER_SIDE = 50  # 50 inches at 100 dpi is already a 5000-pixel image


def grid_side(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_CELLS_PER_SIDE:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_CELLS_PER_SIDE}, got {value}")
    return value


def png_path(text: str) -> str:
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"the picture is written as PNG, so the name must end in .png; "
                                         f"got {text!r}")
    return text


def register(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "show", parents=[common], help="draw sample images with their class names into a PNG",
        description="Draw the first ROWS x COLS images of a split, each with its class name, "
                    "into a PNG file (as the classic tutorial's 10x10 figure does), and print its path.")
    parser.add_argument("--split", choices=["train", "test"], default="train",
                        help="which images to draw (default: train)")
    parser.add_argument("--rows", type=grid_side, default=10, help="rows of images (default: 10)")
    parser.add_argument("--cols", type=grid_side, default=10, help="columns of images (default: 10)")
    parser.add_argument("-o", "--output", type=png_path, default="samples.png", metavar="FILE.png",
                        help="where to write the picture (default: samples.png)")
    add_data_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from attire.data import load_data
    from attire.plots import sample_grid

    train, test = load_data(args.data_dir, mirror=args.mirror)
    images, labels = train if args.split == "train" else test
    n_shown = min(len(images), args.rows * args.cols)
    path = sample_grid(images, labels, args.output, rows=args.rows, cols=args.cols,
                       title=f"Fashion-MNIST {args.split}: first {n_shown} of {len(images)} images")
    print(path)
    return 0
