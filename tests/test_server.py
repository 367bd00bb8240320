"""The REST API through the ASGI app: answers, every error with its status and message, the docs offline."""

import asyncio
import base64
import io
import re
import struct
import time
import warnings
import zlib
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from starlette.exceptions import StarletteDeprecationWarning

from attire.data import CLASS_NAMES, load_data
from attire.errors import ConfigError
from attire.predict import Classifier
from attire.server import create_app
from serve_fixtures import encoded, labelled_images, png, tiny_model  # noqa: F401 (fixtures)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)  # it would rather have httpx2; httpx works
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module", autouse=True)
def restore_torch_threads():
    """create_app sets PyTorch's threads for the whole process: give the later tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return Classifier.load(tiny_model)


@pytest.fixture(scope="module")
def client(classifier):
    with TestClient(create_app(classifier)) as client:
        yield client


def post_files(client, *files, url="/v1/predict", **params):
    return client.post(url, params=params, files=[("file", f) for f in files])


def assert_error(response, status: int, code: str, *phrases: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    for phrase in phrases:
        assert phrase in error["message"], error["message"]
    return error


def png_header(width: int, height: int) -> bytes:
    """A PNG with a valid header claiming width×height pixels and no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------- answers

def test_service_endpoints(client, classifier):
    assert client.get("/healthz").json() == {"status": "ok", "model": "cnn"}
    assert client.get("/v1/classes").json() == {"classes": list(CLASS_NAMES)}
    model = client.get("/v1/model").json()
    assert model["name"] == "cnn" and model["preset"] == "fast" and model["engine"] == "torch"
    assert model["test_accuracy"] == classifier.info["metrics"]["test_accuracy"]
    assert model["parameters"] == sum(p.numel() for p in classifier.engine.model.parameters())


def test_predict_answers_like_the_classifier_and_gets_the_labels_right(client, classifier, labelled_images):
    images, labels = labelled_images
    response = post_files(client, *[(f"img{i}.png", png(image), "image/png") for i, image in enumerate(images)])
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    expected = classifier.predict_proba(images)
    assert [p["filename"] for p in predictions] == [f"img{i}.png" for i in range(len(images))]
    for prediction, probabilities, label in zip(predictions, expected, labels):
        assert set(prediction) == {"filename", "label", "class_index", "probability", "top_k"}
        assert prediction["class_index"] == int(probabilities.argmax()) == label
        assert prediction["label"] == CLASS_NAMES[label]
        assert prediction["probability"] == pytest.approx(probabilities.max(), abs=1e-6)
        assert len(prediction["top_k"]) == 3 and prediction["top_k"][0]["label"] == prediction["label"]


def test_top_k_lists_the_likeliest_classes_in_order(client, labelled_images):
    response = post_files(client, ("a.png", png(labelled_images[0][0]), "image/png"), top_k=10)
    top = response.json()["predictions"][0]["top_k"]
    assert sorted(item["label"] for item in top) == sorted(CLASS_NAMES)
    probabilities = [item["probability"] for item in top]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1)


def test_view_is_the_image_the_model_sees(client, classifier):
    photo = Image.new("RGB", (300, 200), "white")
    photo.paste((40, 40, 90), (100, 40, 200, 160))  # a dark box on a white background, as a JPEG
    data = encoded(photo, "JPEG", quality=90)
    response = post_files(client, ("box.jpg", data, "image/jpeg"), view=1)
    prediction = response.json()["predictions"][0]
    view = np.asarray(Image.open(io.BytesIO(base64.b64decode(prediction["view_png"]))))
    assert view.shape == (28, 28) and view.dtype == np.uint8
    assert np.array_equal(view, classifier.preprocess(data)[0])
    assert "view_png" not in post_files(client, ("box.jpg", data, "image/jpeg")).json()["predictions"][0]


def test_a_raw_image_body_is_accepted(client, labelled_images):
    image, label = labelled_images[0][5], labelled_images[1][5]
    response = client.post("/v1/predict", content=png(image), headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    prediction = response.json()["predictions"][0]
    assert prediction["filename"] is None and prediction["class_index"] == label


# ---------------------------------------------------------------- errors, one per row of the README's table

def test_unreadable_images_are_400(client):
    truncated = png(np.random.default_rng(0).integers(0, 255, (100, 100), dtype=np.uint8))[:300]
    assert_error(post_files(client, ("junk.png", b"this is not a picture", "image/png")), 400, "unreadable_image",
                 "'junk.png' is not an image attire can read", "JPEG, PNG")
    assert_error(post_files(client, ("cut.png", truncated, "image/png")), 400, "unreadable_image",
                 "'cut.png'", "truncated or corrupt")
    assert_error(post_files(client, ("empty.png", b"", "image/png")), 400, "unreadable_image", "empty (0 bytes)")


def test_broken_multipart_is_400(client):
    response = client.post("/v1/predict", content=b"--x\r\nnonsense",
                           headers={"Content-Type": "multipart/form-data"})  # no boundary
    assert_error(response, 400, "bad_multipart", "cannot be parsed", "curl -F file=@photo.jpg")


def test_uploads_over_the_limit_are_413_before_and_while_reading(classifier):
    with TestClient(create_app(classifier, max_upload_bytes=1024)) as small:
        too_big = bytes(3072)
        assert_error(small.post("/v1/predict", content=too_big, headers={"Content-Type": "image/png"}),
                     413, "upload_too_large", "is 3.0 KB", "limit of 1.0 KB", "--max-upload-mb")
        # A chunked upload declares no length: it is counted as it arrives.
        chunks = (bytes(600) for _ in range(3))
        assert_error(small.post("/v1/predict", content=chunks, headers={"Content-Type": "image/png"}),
                     413, "upload_too_large", "more than 1.0 KB")
        assert_error(post_files(small, ("big.png", too_big, "image/png")), 413, "upload_too_large")


def test_images_over_the_pixel_limit_are_413_from_their_header(client, classifier):
    start = time.perf_counter()
    assert_error(post_files(client, ("huge.png", png_header(8000, 8000), "image/png")), 413, "too_many_pixels",
                 "8000×8000", "64.0 megapixels", "limit of 40")
    assert_error(post_files(client, ("bomb.png", png_header(20000, 20000), "image/png")), 413, "too_many_pixels")
    assert time.perf_counter() - start < 2  # refused from the header: nothing was decoded
    with TestClient(create_app(classifier, max_pixels=10_000)) as strict:
        photo = encoded(Image.new("L", (200, 200), 255), "PNG")
        assert_error(post_files(strict, ("p.png", photo, "image/png")), 413, "too_many_pixels", "200×200")


def test_too_many_images_in_one_request_is_413(client, labelled_images):
    data = png(labelled_images[0][0])
    assert_error(post_files(client, *[(f"{i}.png", data, "image/png") for i in range(65)]),
                 413, "too_many_images", "more than 64")


def test_unsupported_types_are_415(client):
    assert_error(post_files(client, ("notes.txt", b"hello", "text/plain")), 415, "unsupported_type",
                 "'notes.txt' was sent as text/plain, not an image")
    assert_error(post_files(client, ("logo.svg", b"<svg/>", "image/svg+xml")), 415, "unsupported_type",
                 "image/svg+xml, an image type attire does not read")
    ppm = encoded(Image.new("RGB", (10, 10)), "PPM")  # Pillow reads it, attire does not
    assert_error(post_files(client, ("x.ppm", ppm, "application/octet-stream")), 415, "unsupported_type",
                 "is a PPM image", "PNG")
    assert_error(client.post("/v1/predict", content=b"hello", headers={"Content-Type": "text/plain"}),
                 415, "unsupported_type", "multipart/form-data", "curl -F file=@photo.jpg")
    assert_error(client.post("/v1/predict", json={"image": "..."}), 415, "unsupported_type", "application/json")


def test_missing_or_wrong_fields_are_422(client, labelled_images):
    data = png(labelled_images[0][0])
    assert_error(client.post("/v1/predict", files={"image": ("a.png", data, "image/png")}), 422, "missing_field",
                 "expected one or more 'file' fields", "got the fields image")
    text_field = b'--B\r\nContent-Disposition: form-data; name="file"\r\n\r\nphoto.jpg\r\n--B--\r\n'
    response = client.post("/v1/predict", content=text_field,  # what `curl -F file=photo.jpg` sends
                           headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert_error(response, 422, "missing_field", "holds text, not a file", "note the @")
    for bad, phrase in [("0", "greater than or equal to 1"), ("11", "less than or equal to 10"),
                        ("three", "valid integer")]:
        response = client.post(f"/v1/predict?top_k={bad}", files={"file": ("a.png", data, "image/png")})
        assert_error(response, 422, "invalid_parameter", "query top_k", phrase)


def test_unknown_paths_and_methods_keep_the_error_shape(client):
    assert_error(client.get("/v1/nothing"), 404, "not_found", "/v1/nothing", "/docs")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


def test_limits_beyond_the_image_readers_are_refused(classifier):
    with pytest.raises(ConfigError, match="at most 20 MB"):
        create_app(classifier, max_upload_bytes=50 * 2**20)
    with pytest.raises(ConfigError, match="pixel limit"):
        create_app(classifier, max_pixels=10**9)


# ---------------------------------------------------------------- concurrency

class SlowClassifier:
    """Stands in for a model: slow, counts its calls, and answers class = the image's top-left pixel."""

    classes_ = CLASS_NAMES
    info = {"model": "slow"}
    engine = SimpleNamespace(name="stub")

    def __init__(self, seconds: float):
        self.seconds, self.calls = seconds, []

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(len(batch))
        time.sleep(self.seconds)
        return np.eye(10)[batch[:, 0, 0] % 10]


def marked_image(k: int) -> bytes:
    image = np.zeros((28, 28), np.uint8)
    image[0, 0] = k
    image[10:18, 10:18] = 200
    return png(image)


def test_inference_leaves_the_event_loop_free_and_batches_concurrent_requests():
    model = SlowClassifier(seconds=0.5)
    app = create_app(model)

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            requests = [asyncio.create_task(client.post("/v1/predict", files={"file": (f"{k}.png", marked_image(k))}))
                        for k in range(8)]
            await asyncio.sleep(0.2)
            start = time.perf_counter()
            health = await client.get("/healthz")
            health_s = time.perf_counter() - start
            return health, health_s, await asyncio.gather(*requests)

    health, health_s, responses = asyncio.run(scenario())
    assert health.status_code == 200 and health_s < 0.3  # not stuck behind the model
    assert [r.json()["predictions"][0]["class_index"] for r in responses] == list(range(8))
    assert sum(model.calls) == 8 and len(model.calls) < 8  # the waiting requests shared model calls


class BrokenClassifier(SlowClassifier):
    def predict_proba(self, batch):
        raise RuntimeError("the model fell over")


def test_a_bug_is_a_500_in_the_same_shape_and_the_server_goes_on():
    with TestClient(create_app(BrokenClassifier(0)), raise_server_exceptions=False) as client:
        response = client.post("/v1/predict", files={"file": ("a.png", marked_image(1), "image/png")})
        assert_error(response, 500, "internal_error", "RuntimeError: the model fell over", "traceback")
        assert client.get("/healthz").status_code == 200


# ---------------------------------------------------------------- random samples

def test_random_samples_are_test_images_with_their_labels(classifier, real_data):
    (_, _), (test_images, test_labels) = load_data(real_data, progress=False)
    with TestClient(create_app(classifier, data_dir=real_data)) as client:
        response = client.get("/v1/samples/random", params={"index": 7})
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(response.content))), test_images[7])
        assert response.headers["X-Label"] == CLASS_NAMES[test_labels[7]]
        assert response.headers["X-Class-Index"] == str(test_labels[7]) and response.headers["X-Sample-Index"] == "7"
        # What the page does next: the model sees the test image exactly.
        view = post_files(client, ("s.png", response.content, "image/png"), view=1).json()["predictions"][0]["view_png"]
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(view)))), test_images[7])

        indices = {int(client.get("/v1/samples/random").headers["X-Sample-Index"]) for _ in range(5)}
        assert len(indices) > 1 and all(0 <= i < 10_000 for i in indices)
        assert_error(client.get("/v1/samples/random", params={"index": 10_000}), 422, "invalid_parameter",
                     "out of range", "10000 test images")


def test_random_samples_without_data_are_503_with_the_remedy(classifier, tmp_path):
    with TestClient(create_app(classifier, data_dir=tmp_path)) as client:
        response = client.get("/v1/samples/random")
        assert_error(response, 503, "data_unavailable", "not available on this server", "upload a photo",
                     str(tmp_path), "lacks")
        assert response.headers["Retry-After"] == "60"
        assert client.get("/v1/samples/random").status_code == 503
        assert client.get("/healthz").status_code == 200


# ---------------------------------------------------------------- the page and the docs, offline

def local_resources(html: str) -> list[str]:
    """The URLs a page loads by itself (scripts, styles, images, icons): each must be on this server."""
    urls = re.findall(r"<(?:script|img)[^>]*\ssrc=[\"']([^\"']+)", html)
    urls += re.findall(r"<link[^>]*\shref=[\"']([^\"']+)", html)
    urls += re.findall(r"""(?:url|spec-url)\s*[:=]\s*['"]([^'"]+)""", html)
    return urls


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_load_nothing_from_other_hosts(client, path):
    response = client.get(path)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    resources = local_resources(response.text)
    assert resources, "the check found nothing to check"
    for url in resources:
        if url.startswith("data:"):
            continue
        assert url.startswith("/") and not url.startswith("//"), f"{path} loads {url} from elsewhere"
        assert client.get(url).status_code == 200, url


def test_the_page_is_made_for_phones_and_screen_readers(client):
    html = client.get("/").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'accept="image/*" capture="environment"' in html
    for input_id in re.findall(r'<input id="([^"]+)"', html):
        assert re.search(f'<label class="button[^"]*" for="{input_id}">', html), input_id
    assert 'role="alert"' in html and 'aria-live="polite"' in html
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200


def test_openapi_schema_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/classes", "/v1/model", "/v1/samples/random", "/healthz"} <= set(schema["paths"])
    predict = schema["paths"]["/v1/predict"]["post"]
    assert {"multipart/form-data", "image/*"} <= set(predict["requestBody"]["content"])
    assert {"400", "413", "415", "422"} <= set(predict["responses"])
    assert {p["name"] for p in predict["parameters"]} == {"top_k", "view"}
