"""`attire report`: the pictures and the one-page HTML report of a training run."""


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "report", parents=[common], help="draw a run's pictures and write its report.html",
        description="Evaluate a finished run's model on the test set, draw its pictures into "
                    "RUN_DIR/pictures/ and write RUN_DIR/report.html, a self-contained page "
                    "(pictures embedded, no network needed); print the page's path.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `attire train`")
    parser.add_argument("--data-dir", help="directory with the Fashion-MNIST files "
                                           "(default: where the run's config found them)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from attire.report import write_report

    print(write_report(args.run_dir, data_dir=args.data_dir))
    return 0
