"""`attire models`: the registered models and their sizes."""


def register(subparsers, common) -> None:
    parser = subparsers.add_parser("models", parents=[common], help="list the registered models",
                                   description="List the registered models with their parameter counts.")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from attire.models import count_parameters, create_model, describe_model, list_models

    print(f"{'model':<10} {'parameters':>12}  description")
    for name in list_models():
        print(f"{name:<10} {count_parameters(create_model(name)):>12,}  {describe_model(name)}")
    return 0
