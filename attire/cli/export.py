"""`attire export`: write a model as ONNX, checked against PyTorch, for torch-free prediction."""


def register(subparsers, common) -> None:
    # No import of attire.export here: it imports torch, and every command's parser is
    # built on every call, `attire predict --engine onnx` in a torch-free install too.
    parser = subparsers.add_parser(
        "export", parents=[common], help="export a model to ONNX (for `pip install attire[onnx]`)",
        description="Export a model to ONNX. The graph takes images, uint8 (N, 28, 28), grey pixels "
                    "0..255 with a dark background, and returns logits, float32 (N, 10); the "
                    "class names, model name, config and test accuracy are in its metadata. "
                    "Before writing, ONNX Runtime and PyTorch classify 1,000 test "
                    "images: their logits must agree within 1e-4 and every prediction "
                    "must be the same, or nothing is written.")
    parser.add_argument("model", nargs="?",
                        help="run directory or .safetensors model file (default: the pretrained model)")
    parser.add_argument("-o", "--output", default="model.onnx", help="ONNX file to write (default: model.onnx)")
    parser.add_argument("--opset", type=int, help="ONNX operator set, 18 to 23 (default: 18)")
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST files for the check "
                                           "(default: search; random images when absent)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from attire.export import DEFAULT_OPSET, export_model

    opset = args.opset or DEFAULT_OPSET
    print(f"exporting {args.model or 'the pretrained model'} to {args.output} (opset {opset}) ...",
          flush=True)
    figures = export_model(args.model, args.output, opset=opset, data_dir=args.data_dir)
    print(format_figures(figures))
    return 0


def format_figures(figures: dict) -> str:
    return "\n".join([
        f"check on {figures['images_source']}:",
        f"  largest |logit difference| ONNX Runtime vs PyTorch: {figures['max_abs_diff']:.2e} "
        f"(allowed {figures['tolerance']:.0e})",
        f"  same prediction: {figures['n_same_prediction']:,} of {figures['n_images']:,} images",
        f"wrote {figures['path']} ({figures['n_bytes'] / 1e6:.2f} MB) in {figures['seconds']:.1f} s",
    ])
