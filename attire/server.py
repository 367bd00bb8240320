"""The web page and the REST API of `attire serve`: one FastAPI app around one Classifier.

  GET  /                    the page: drop a photo, see what the model sees and its answer
  POST /v1/predict          classify images (multipart `file` fields or a raw image body)
  GET  /v1/classes          the class names in label order
  GET  /v1/model            the model's name, preset, test accuracy, parameters and engine
  GET  /v1/samples/random   a random Fashion-MNIST test image as PNG, its label in headers
  GET  /healthz             liveness, for load balancers and tests
  GET  /docs, /redoc        the API's documentation, from files in the fastapi-offline package
                            (the stock pages load scripts from a CDN); schema at /openapi.json

Every error is `{"error": {"code": ..., "message": ...}}` with a status a client can act
on (see attire.uploads for the upload ones). Decoding runs in the thread pool, never on
the event loop; the model runs in one Batcher thread that groups concurrent requests.
"""

import asyncio
import base64
import io
import logging
import os
import random
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from attire import __version__, images
from attire.batcher import Batcher
from attire.errors import ConfigError, DatasetError
from attire.uploads import FIELD, RequestError, decode_image, read_uploads

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 10 * 2**20
DEFAULT_TOP_K = 3
# PyTorch threads for the whole server process. The Batcher already gives concurrency, and
# after each call OpenMP's idle threads spin: measured on 2 busy shared cores, one image
# through the Batcher took 300 ms with 2 threads and 0.5 ms with 1.
TORCH_THREADS = 1
DATA_RETRY_S = 60  # after the test images failed to load, answer 503 this long before trying again
# `attire serve` hands its settings to each worker process through these (see app_from_env).
ENV = {"model": "ATTIRE_SERVE_MODEL", "engine": "ATTIRE_SERVE_ENGINE",
       "max_upload_bytes": "ATTIRE_SERVE_MAX_UPLOAD_BYTES", "data_dir": "ATTIRE_SERVE_DATA_DIR"}
STATUS_CODES = {404: "not_found", 405: "method_not_allowed"}

log = logging.getLogger("attire.server")


# ---------------------------------------------------------------- response shapes (for /docs)

class TopK(BaseModel):
    label: str
    probability: float


class Prediction(BaseModel):
    filename: str | None   # null for a raw request body
    label: str
    class_index: int
    probability: float
    top_k: list[TopK]
    view_png: str | None = None  # the 28×28 model view, base64 PNG, with ?view=1


class Predictions(BaseModel):
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    name: str | None
    preset: str | None
    test_accuracy: float | None
    parameters: int | None
    engine: str
    classes: list[str]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_docs(*statuses: int) -> dict:
    return {status: {"model": ErrorBody} for status in statuses}


UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [FIELD],
        "properties": {FIELD: {"type": "array", "items": {"type": "string", "format": "binary"},
                               "description": "one or more images (JPEG, PNG, WebP, BMP, GIF, TIFF)"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}},
}}}


# ---------------------------------------------------------------- the app

def create_app(classifier, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_pixels: int | None = None,
               data_dir: str | os.PathLike | None = None) -> FastAPI:
    """The app serving `classifier` (an attire.Classifier).

    `max_upload_bytes` bounds one request's body and `max_pixels` one image; both may be at
    most attire.images' own limits, which apply anyway. `data_dir` is where the test
    images for /v1/samples/random are (None: attire.load_data's usual search).
    """
    max_pixels = images.MAX_PIXELS if max_pixels is None else max_pixels
    check_limits(max_upload_bytes, max_pixels)
    if classifier.engine.name == "torch":
        import torch
        torch.set_num_threads(TORCH_THREADS)
    batcher = Batcher(classifier.predict_proba)
    samples = SampleImages(data_dir)
    classes = list(classifier.classes_)
    model_info = describe_model(classifier)

    @asynccontextmanager
    async def lifespan(app):
        yield
        batcher.close()

    app = FastAPIOffline(title="attire", version=__version__, lifespan=lifespan,
                         description="Recognise clothing in images (Fashion-MNIST's ten classes). "
                                     "Errors are `{\"error\": {\"code\", \"message\"}}`.")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    add_error_handlers(app)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict:
        """200 once the model is loaded: for load balancers and scripts waiting for the server."""
        return {"status": "ok", "model": model_info["name"]}

    @app.get("/v1/classes", tags=["model"])
    async def get_classes() -> dict[str, list[str]]:
        """The class names in label order: `class_index` in a prediction indexes this list."""
        return {"classes": classes}

    @app.get("/v1/model", tags=["model"], response_model=ModelInfo)
    async def get_model() -> dict:
        """The served model: its name, training preset, test accuracy, parameter count and engine."""
        return model_info

    @app.post("/v1/predict", tags=["predict"], response_model=Predictions, openapi_extra=UPLOAD_BODY,
              response_model_exclude_unset=True,  # view_png only when asked for
              responses=error_docs(400, 413, 415, 422))
    async def predict(request: Request,
                      top_k: int = Query(DEFAULT_TOP_K, ge=1, le=len(classes),
                                         description="how many of the likeliest classes to list"),
                      view: bool = Query(False, description="add view_png, the 28×28 image the model sees")):
        """Classify one or more images: multipart `file` fields (`curl -F file=@photo.jpg`) or a raw
        image body (`curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg`)."""
        uploads = await read_uploads(request, max_upload_bytes)
        views = await run_in_threadpool(lambda: np.stack([decode_image(u, max_pixels) for u in uploads]))
        probabilities = await asyncio.wrap_future(batcher.submit(views))
        predictions = [describe_prediction(upload.filename, row, classes, top_k)
                       for upload, row in zip(uploads, probabilities)]
        if view:
            for prediction, model_view in zip(predictions, views):
                prediction["view_png"] = base64.b64encode(png_bytes(model_view)).decode("ascii")
        return {"predictions": predictions}

    @app.get("/v1/samples/random", tags=["samples"], response_class=Response, responses={
        200: {"content": {"image/png": {}}, "description": "the image; its label in X-Label, "
              "X-Class-Index, and its index in X-Sample-Index"}, **error_docs(422, 503)})
    async def random_sample(index: int | None = Query(None, ge=0, description="this test image instead")):
        """A Fashion-MNIST test image as PNG (for the page's button), its true label in headers."""
        test_images, test_labels = await run_in_threadpool(samples.get)
        if index is None:
            index = random.randrange(len(test_images))
        elif index >= len(test_images):
            raise RequestError(422, "invalid_parameter",
                               f"index {index} is out of range: there are {len(test_images)} test images")
        label = int(test_labels[index])
        return Response(png_bytes(test_images[index]), media_type="image/png", headers={
            "X-Label": classes[label], "X-Class-Index": str(label), "X-Sample-Index": str(index),
            "Cache-Control": "no-store"})

    return app


def check_limits(max_upload_bytes: int, max_pixels: int) -> None:
    if not 0 < max_upload_bytes <= images.MAX_FILE_BYTES:
        raise ConfigError(f"the upload limit must be more than 0 and at most {images.MAX_FILE_BYTES / 2**20:g} MB "
                          f"(attire.images' limit for one file), got {max_upload_bytes / 2**20:g} MB")
    if not 0 < max_pixels <= images.MAX_PIXELS:
        raise ConfigError(f"the pixel limit must be more than 0 and at most {images.MAX_PIXELS:,} "
                          f"(attire.images' limit), got {max_pixels:,}")


def app_from_env() -> FastAPI:
    """The app for a uvicorn worker (`attire.server:app_from_env`, factory=True).

    With --workers N each worker is a process of its own that loads the model once;
    `attire serve` hands it the settings in the ENV variables.
    """
    from attire.predict import Classifier

    classifier = Classifier.load(os.environ.get(ENV["model"]) or None, os.environ.get(ENV["engine"]) or None)
    return create_app(classifier,
                      max_upload_bytes=int(os.environ.get(ENV["max_upload_bytes"], DEFAULT_MAX_UPLOAD_BYTES)),
                      data_dir=os.environ.get(ENV["data_dir"]) or None)


# ---------------------------------------------------------------- errors

def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def request_error(request, error: RequestError):
        headers = {"Retry-After": str(DATA_RETRY_S)} if error.status == 503 else None
        return error_response(error.status, error.code, error.message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request, error: RequestValidationError):
        problems = ["{} {}: {}".format(where[0], ".".join(map(str, where[1:])), item["msg"])
                    for item in error.errors() for where in [item.get("loc", ("request",))]]
        return error_response(422, "invalid_parameter", "; ".join(problems))

    @app.exception_handler(HTTPException)
    async def http_error(request, error: HTTPException):
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404:
            message = f"no such page or endpoint: {request.url.path} (the API is listed at /docs)"
        return error_response(error.status_code, STATUS_CODES.get(error.status_code, "http_error"), message,
                              getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request, error: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error",
                              f"{type(error).__name__}: {error} (a bug in attire's server; the log has the traceback)")


# ---------------------------------------------------------------- helpers

def describe_prediction(filename: str | None, probabilities: np.ndarray, classes: list[str], top_k: int) -> dict:
    """The same fields as `attire predict --json`, with `filename` in place of `path`."""
    order = np.argsort(-probabilities, kind="stable")
    best = int(order[0])
    return {"filename": filename, "label": classes[best], "class_index": best,
            "probability": float(probabilities[best]),
            "top_k": [{"label": classes[i], "probability": float(probabilities[i])} for i in order[:top_k]]}


def describe_model(classifier) -> dict:
    info = classifier.info
    return {"name": info.get("model"), "preset": (info.get("config") or {}).get("preset"),
            "test_accuracy": (info.get("metrics") or {}).get("test_accuracy"),
            "parameters": count_parameters(classifier), "engine": classifier.engine.name,
            "classes": list(classifier.classes_)}


def count_parameters(classifier) -> int | None:
    if "parameters" in classifier.info:
        return int(classifier.info["parameters"])
    model = getattr(classifier.engine, "model", None)  # the torch engine's nn.Module
    if hasattr(model, "parameters"):
        return sum(p.numel() for p in model.parameters())
    return None


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


class SampleImages:
    """The Fashion-MNIST test split, loaded on first use (most servers never need it)."""

    def __init__(self, data_dir=None):
        self.data_dir = data_dir
        self._split = None
        self._failure: tuple[float, str] | None = None  # (when, message)
        self._lock = threading.Lock()  # one load at a time, however many clicks arrive

    def get(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._split is None:
                if self._failure and time.monotonic() - self._failure[0] < DATA_RETRY_S:
                    raise self.unavailable(self._failure[1])
                from attire.data import load_data
                try:
                    _, self._split = load_data(self.data_dir, progress=False)
                except DatasetError as e:
                    self._failure = (time.monotonic(), str(e))
                    raise self.unavailable(str(e)) from None
            return self._split

    @staticmethod
    def unavailable(reason: str) -> RequestError:
        return RequestError(503, "data_unavailable",
                            f"the Fashion-MNIST test images are not available on this server, so there is "
                            f"no random sample (upload a photo instead). {reason}")
