"""`attire serve`: the web page and the REST API in one process (FastAPI under uvicorn)."""

import os
import socket

from attire.errors import ConfigError

SERVE_EXTRA_HINT = "the server needs the serve extra: pip install 'attire[serve]'"


def register(subparsers, common) -> None:
    parser = subparsers.add_parser(
        "serve", parents=[common], help="serve the web page and the REST API",
        description="Serve a page to classify photos in the browser and a JSON API under /v1 "
                    "(documented at /docs). The model is loaded once at start, once per worker.")
    parser.add_argument("--model", help="run directory, .safetensors or .onnx file (default: the pretrained model)")
    parser.add_argument("--engine", choices=["torch", "onnx"], help="default: by the model file's suffix")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free port)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes, each with its own copy of the model (default: 1)")
    parser.add_argument("--max-upload-mb", type=float, default=10.0,
                        help="largest request body in MB, all its images together (default: 10, at most 20)")
    parser.add_argument("--data-dir", help="where the Fashion-MNIST test images for the page's random-sample "
                                           "button are (default: the usual search)")
    parser.add_argument("--no-access-log", action="store_true", help="do not log every request")
    parser.set_defaults(handler=run)


def run(args) -> int:
    try:
        import uvicorn

        from attire import server
    except ImportError as e:
        raise ConfigError(f"{SERVE_EXTRA_HINT} ({e})") from None
    from attire.images import MAX_PIXELS
    from attire.predict import Classifier

    if args.workers < 1:
        raise ConfigError(f"--workers must be 1 or more, got {args.workers}")
    max_upload_bytes = round(args.max_upload_mb * 2**20)
    server.check_limits(max_upload_bytes, MAX_PIXELS)
    port = free_port(args.host, args.port)
    # Loaded here even with several workers: a bad model is reported before anything starts.
    classifier = Classifier.load(args.model, args.engine)
    info = server.describe_model(classifier)
    accuracy = f"test accuracy {info['test_accuracy']:.4f}" if info["test_accuracy"] is not None else "accuracy unknown"
    shown = "localhost" if args.host in ("0.0.0.0", "::") else f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/"
    print(f"attire: serving {info['name']} (preset {info['preset']}, {accuracy}, {info['engine']} engine) "
          f"at {url}  (API docs: {url}docs)", flush=True)
    options = dict(host=args.host, port=port, access_log=not args.no_access_log, log_level="info")
    if args.workers == 1:
        uvicorn.run(server.create_app(classifier, max_upload_bytes=max_upload_bytes, data_dir=args.data_dir),
                    **options)
        return 0
    del classifier
    os.environ.update({server.ENV["model"]: args.model or "", server.ENV["engine"]: args.engine or "",
                       server.ENV["max_upload_bytes"]: str(max_upload_bytes),
                       server.ENV["data_dir"]: args.data_dir or ""})
    uvicorn.run("attire.server:app_from_env", factory=True, workers=args.workers, **options)
    return 0


def free_port(host: str, port: int) -> int:
    """`port` if it can be listened on (any free port for 0), else a clear error before anything loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}): another server may be using "
                              "the port; choose another with --port (0: any free port)") from None
        return probe.getsockname()[1]
