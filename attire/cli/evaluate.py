"""`attire evaluate`: test loss and accuracy, per-class table and confusion matrix of a model."""

import json


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "evaluate", parents=[common], help="measure a model on the test (or train) set",
        description="Evaluate a model: a run directory or a .safetensors file "
                    "(default: the pretrained model shipped with attire).")
    parser.add_argument("model", nargs="?", help="run directory or model file (default: the pretrained model)")
    parser.add_argument("--split", choices=["test", "train"], default="test", help="which split (default: test)")
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST files (default: search)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from attire.evaluation import evaluate

    metrics = evaluate(args.model, split=args.split, data_dir=args.data_dir)
    if args.json:
        print(json.dumps(metrics))
    else:
        print(format_metrics(metrics))
    return 0


def format_metrics(metrics: dict) -> str:
    lines = [f"{metrics['split']} set: {metrics['n_images']:,} images, "
             f"accuracy {metrics['accuracy']:.4f}, loss {metrics['loss']:.4f}", "",
             f"{'class':<12} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for row in metrics["per_class"]:
        lines.append(f"{row['class']:<12} {row['precision']:>9.4f} {row['recall']:>7.4f} "
                     f"{row['f1']:>7.4f} {row['support']:>8}")
    names = [row["class"][:5] for row in metrics["per_class"]]
    lines += ["", "confusion matrix (rows: true class, columns: predicted)",
              " " * 12 + "".join(f"{name:>6}" for name in names)]
    for row, counts in zip(metrics["per_class"], metrics["confusion_matrix"]):
        lines.append(f"{row['class']:<12}" + "".join(f"{count:>6}" for count in counts))
    return "\n".join(lines)
