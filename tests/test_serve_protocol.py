"""The service as production clients see it: the Open Inference Protocol through Triton's own client
(unmodified tritonclient.http, JSON and binary tensors, the classification extension), API keys,
Prometheus metrics, several models in one server, and a graceful SIGTERM with requests in flight."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from conftest import bomb_png
from inception_zoo import create_model, save_weights, transforms_for
from inception_zoo.serve import Limits, background_server, create_app

tritonclient = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

FIRST, SECOND = "inception_next_atto_cifar", "googlenet_cifar"
LABELS = [f"class {i}" for i in range(10)]
KEY = "s3cret-key-0123"


def image_bytes(colour, size=(40, 30), format="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=format)
    return buffer.getvalue()


IMAGES = [image_bytes((200, 40, 40)), image_bytes((20, 180, 90), format="JPEG"), image_bytes((30, 60, 220))]


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    first = create_model(FIRST).eval()
    first.labels = LABELS
    return {FIRST: first, SECOND: create_model(SECOND).eval()}


def logits_of(model, images: list[bytes]) -> np.ndarray:
    transform = transforms_for(model)
    with torch.inference_mode():
        x = torch.stack([transform(Image.open(io.BytesIO(b)).convert("RGB")) for b in images])
        return model(x).numpy()


@pytest.fixture(scope="module")
def server(models):
    app = create_app(models, Limits(max_bytes=200_000, max_pixels=1_000_000, max_batch_size=8))
    with background_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def triton(server):
    client = tritonclient.InferenceServerClient(server.removeprefix("http://"))
    yield client
    client.close()


def images_input(images: list[bytes], binary: bool):
    tensor = tritonclient.InferInput("images", [len(images)], "BYTES")
    elements = images if binary else [base64.b64encode(b) for b in images]
    tensor.set_data_from_numpy(np.array(elements, dtype=np.object_), binary_data=binary)
    return tensor


def pixels_input(x: np.ndarray, binary: bool):
    tensor = tritonclient.InferInput("pixels", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    return tensor


def test_health_and_metadata_through_tritonclient(triton, models):
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready(FIRST) and triton.is_model_ready(SECOND, "1")
    server = triton.get_server_metadata()
    assert server["name"] == "inception-zoo" and {"binary_tensor_data", "classification"} <= set(server["extensions"])
    metadata = triton.get_model_metadata(FIRST)
    assert metadata["name"] == FIRST and metadata["versions"] == ["1"]
    assert {i["name"]: (i["datatype"], i["shape"]) for i in metadata["inputs"]} == {
        "images": ("BYTES", [-1]), "pixels": ("FP32", [-1, 3, 32, 32])
    }  # fmt: skip
    assert {o["name"] for o in metadata["outputs"]} == {"logits", "probabilities"}
    assert all(o["shape"] == [-1, 10] for o in metadata["outputs"])
    with pytest.raises(InferenceServerException, match="no model named 'nope'"):
        triton.get_model_metadata("nope")
    with pytest.raises(InferenceServerException, match="version '1' only"):
        triton.get_model_metadata(FIRST, "2")


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_encoded_images_give_the_models_logits(triton, models, binary):
    expected = logits_of(models[FIRST], IMAGES)
    outputs = [tritonclient.InferRequestedOutput(name, binary_data=binary) for name in ("logits", "probabilities")]
    result = triton.infer(FIRST, [images_input(IMAGES, binary)], outputs=outputs, request_id="r1")
    np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), torch.from_numpy(expected).softmax(1).numpy(), rtol=1e-4, atol=1e-6
    )
    response = result.get_response()
    assert response["model_name"] == FIRST and response["model_version"] == "1" and response["id"] == "r1"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_preprocessed_pixels_give_the_models_logits_on_either_model_and_version(triton, models, binary):
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)).numpy()
    for name in (FIRST, SECOND):
        with torch.inference_mode():
            expected = models[name](torch.from_numpy(x)).numpy()
        output = tritonclient.InferRequestedOutput("logits", binary_data=binary)
        result = triton.infer(name, [pixels_input(x, binary)], model_version="1", outputs=[output])
        np.testing.assert_allclose(result.as_numpy("logits"), expected, rtol=1e-4, atol=1e-4)
        assert result.as_numpy("probabilities") is None  # only what was asked for


def test_no_outputs_named_gives_all_of_them_in_binary(triton, models):
    result = triton.infer(FIRST, [images_input(IMAGES[:1], True)])
    assert result.as_numpy("logits").shape == (1, 10) and result.as_numpy("probabilities").shape == (1, 10)
    assert all("binary_data_size" in o["parameters"] for o in result.get_response()["outputs"])


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_the_classification_extension(triton, models, binary):
    probabilities = torch.from_numpy(logits_of(models[FIRST], IMAGES)).softmax(1)
    output = tritonclient.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)
    rows = triton.infer(FIRST, [images_input(IMAGES, binary)], outputs=[output]).as_numpy("probabilities")
    assert rows.shape == (3, 3)
    scores, indices = probabilities.topk(3, dim=1)
    for row, row_scores, row_indices in zip(rows, scores.tolist(), indices.tolist(), strict=True):
        parsed = [(e.decode() if isinstance(e, bytes) else e).split(":") for e in row]
        assert [int(index) for _, index, _ in parsed] == row_indices
        assert [label for _, _, label in parsed] == [LABELS[i] for i in row_indices]
        np.testing.assert_allclose([float(score) for score, _, _ in parsed], row_scores, atol=1e-6)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (lambda: [images_input([b"x" * 300_000], True)], "image 0 is larger than the limit of 200,000 bytes"),
        (lambda: [images_input([bomb_png(5000, 4000)], True)], "the limit is 1,000,000"),
        (lambda: [images_input([b"GIF89a but not really an image"], True)], "not an image we can read"),
        (lambda: [images_input([IMAGES[0][:60]], True)], "corrupt or truncated"),
        (lambda: [images_input([IMAGES[0]] * 9, True)], "1 to 8 images (the batch limit), got 9"),
        (lambda: [pixels_input(np.zeros((1, 3, 31, 32), np.float32), True)], "shape [1, 3, 32, 32], got"),
        (lambda: [pixels_input(np.full((1, 3, 32, 32), np.nan, np.float32), False)], "NaN or infinite"),
        (
            lambda: [tritonclient.InferInput("tokens", [1], "INT64").set_data_from_numpy(np.zeros(1, np.int64))],
            "unknown input 'tokens'",
        ),  # fmt: skip
    ],
    ids=["too-many-bytes", "bomb", "not-an-image", "truncated", "batch", "pixels-shape", "nan", "unknown-input"],
)
def test_the_limits_hold_on_the_protocol_with_its_error_shape(triton, inputs, message):
    with pytest.raises(InferenceServerException) as error:
        triton.infer(FIRST, inputs())
    assert message in error.value.message()
    assert triton.infer(FIRST, [images_input(IMAGES[:1], True)]).as_numpy("logits").shape == (1, 10)  # lives on


def test_malformed_protocol_requests_say_what_is_wrong(server):
    url = f"{server}/v2/models/{FIRST}/infer"
    cases = [
        (dict(content=b"not json"), 400, "not JSON"),
        (dict(json={"inputs": []}), 400, "exactly one input"),
        (
            dict(json={"inputs": [{"name": "images", "datatype": "BYTES", "shape": [1], "data": ["%%%"]}]}),
            400,
            "base64",
        ),  # fmt: skip
        (
            dict(json={"inputs": [{"name": "images", "datatype": "FP32", "shape": [1], "data": [1]}]}),
            400,
            "is BYTES",
        ),  # fmt: skip
        (
            dict(
                json={
                    "inputs": [
                        {"name": "images", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 99}}
                    ]
                }
            ),
            400,
            "binary_data_size 99",
        ),  # fmt: skip
        (
            dict(
                json={
                    "inputs": [{"name": "images", "datatype": "BYTES", "shape": [1], "data": ["AA=="]}],
                    "outputs": [{"name": "features"}],
                }
            ),
            400,
            "unknown output 'features'",
        ),  # fmt: skip
    ]
    for send, status, message in cases:
        response = httpx.post(url, **send)
        assert response.status_code == status and message in response.json()["error"], (send, response.text)
    response = httpx.post(f"{server}/v2/models/nope/infer", json={"inputs": []})
    assert response.status_code == 404 and "this server has" in response.json()["error"]


def test_hostile_requests_get_a_400_in_the_protocols_shape_not_a_crash(server):
    url = f"{server}/v2/models/{FIRST}/infer"
    image = {"name": "images", "datatype": "BYTES", "shape": [1], "data": ["AA=="]}
    for body in (
        b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than Python's recursion
        json.dumps({"inputs": [{**image, "parameters": [1]}]}).encode(),
        json.dumps({"inputs": [{**image, "name": ["images"]}]}).encode(),
        json.dumps({"inputs": [{**image, "shape": [True]}]}).encode(),
        json.dumps({"inputs": [{**image, "shape": [1, 2**70]}]}).encode(),
        json.dumps(
            {"inputs": [image], "outputs": [{"name": "logits", "parameters": {"classification": 1e9}}]}
        ).encode(),
    ):
        response = httpx.post(url, content=body)
        assert response.status_code == 400 and response.json()["error"], response.text
    response = httpx.post(url, content=b"{}", headers={"Inference-Header-Content-Length": b"\xb2"})
    assert response.status_code == 400 and "Inference-Header-Content-Length" in response.json()["error"]
    response = httpx.post(url, content=b"x", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 415 and "uncompressed" in response.json()["error"]
    for response in (httpx.get(f"{server}/v2/nowhere"), httpx.delete(f"{server}/v2/models/{FIRST}")):
        assert response.status_code in (404, 405) and "error" in response.json()  # the router's errors too


def test_an_overloaded_model_refuses_with_503_and_retry_after(models):
    app = create_app(models[FIRST], Limits(max_queue=2, max_wait_ms=2000, max_batch_size=8))

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            return await asyncio.gather(*(http.post("/predict", content=IMAGES[0]) for _ in range(4)))

    with background_server(app) as url:
        statuses = sorted(r.status_code for r in asyncio.run(burst(url)))
        refused = httpx.post(f"{url}/v2/models/{FIRST}/infer", json={"inputs": [
            {"name": "images", "datatype": "BYTES", "shape": [3], "data": [base64.b64encode(IMAGES[0]).decode()] * 3}
        ]})  # fmt: skip
    assert statuses == [200, 200, 503, 503]
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1" and "limit is 2" in refused.text


def test_an_app_serves_again_after_it_stopped(models):
    app = create_app(models[FIRST])
    for _ in range(2):
        with background_server(app) as url:
            assert httpx.post(f"{url}/predict", content=IMAGES[0]).status_code == 200


def test_limits_and_keys_that_cannot_work_are_refused(models):
    for bad in (dict(max_wait_ms=float("inf")), dict(max_batch_size=0), dict(max_queue=-1), dict(max_bytes=True)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Limits(**bad)
    with pytest.raises(ValueError, match="API key is empty"):
        create_app(models[FIRST], api_key=" \n")


def test_predict_chooses_among_several_models_and_info_lists_them(server, models):
    expected = logits_of(models[SECOND], IMAGES[:1])[0].argmax()
    answer = httpx.post(f"{server}/predict", params={"model": SECOND}, content=IMAGES[0]).json()
    assert answer["model"] == SECOND and answer["predictions"][0]["index"] == expected
    assert httpx.post(f"{server}/predict", content=IMAGES[0]).json()["model"] == FIRST  # the first given
    response = httpx.post(f"{server}/predict", params={"model": "nope"}, content=IMAGES[0])
    assert response.status_code == 404 and SECOND in response.json()["detail"]
    info = httpx.get(f"{server}/info").json()
    assert list(info["models"]) == [FIRST, SECOND] and info["default_model"] == FIRST


def test_two_models_under_one_name_are_refused(models):
    with pytest.raises(ValueError, match="two models are named"):
        create_app([models[FIRST], models[FIRST]])


def metric_samples(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_prometheus_metrics_count_requests_batches_and_queue(models):
    app = create_app(models[FIRST], Limits(max_batch_size=4, max_wait_ms=20))
    with background_server(app) as url:
        for _ in range(3):
            assert httpx.post(f"{url}/predict", content=IMAGES[0]).status_code == 200
        assert httpx.post(f"{url}/predict", content=b"").status_code == 400
        assert httpx.post(f"{url}/v2/models/{FIRST}/infer", json={"inputs": []}).status_code == 400
        for method in ("MADE-UP-1", "MADE-UP-2"):  # methods a client invents share one series
            assert httpx.request(method, f"{url}/nowhere").status_code == 404
        response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = metric_samples(response.text)

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("inception_zoo_requests_total", endpoint="/predict", method="POST", status="200") == 3
    assert value("inception_zoo_requests_total", endpoint="unmatched", method="other", status="404") == 2
    assert value("inception_zoo_requests_total", endpoint="/predict", method="POST", status="400") == 1
    infer = "/v2/models/{name}/infer"
    assert value("inception_zoo_requests_total", endpoint=infer, method="POST", status="400") == 1
    assert value("inception_zoo_request_duration_seconds_count", endpoint="/predict") == 4
    assert value("inception_zoo_batch_size_count", model=FIRST) == 3
    assert value("inception_zoo_batch_size_sum", model=FIRST) == 3
    assert value("inception_zoo_model_duration_seconds_count", model=FIRST) == 3
    assert value("inception_zoo_queue_depth", model=FIRST) == 0
    assert value("inception_zoo_model_load_seconds", model=FIRST) > 0


def test_an_api_key_guards_all_but_health_and_is_compared_not_echoed(models):
    with background_server(create_app(models[FIRST], api_key=KEY + "\n")) as url:  # as read from a file
        good, wrong = {"Authorization": f"Bearer {KEY}"}, {"Authorization": "Bearer guess"}
        for path in ("/health", "/v2/health/live", "/v2/health/ready", f"/v2/models/{FIRST}/ready", "/"):
            assert httpx.get(url + path).status_code == 200, path
        health = httpx.get(f"{url}/health").json()
        assert health["api_key_required"] is True and "models" not in health  # names are for key holders
        missing = httpx.get(f"{url}/v2/models/nope/ready")
        assert missing.status_code == 404 and FIRST not in missing.text
        assert FIRST not in httpx.get(f"{url}/openapi.json").text
        for method, path in [("POST", "/predict"), ("GET", "/info"), ("GET", "/metrics"), ("GET", "/v2"),
                             ("GET", f"/v2/models/{FIRST}"), ("POST", f"/v2/models/{FIRST}/infer")]:  # fmt: skip
            for headers in ({}, wrong, {"Authorization": KEY}):  # none, a wrong key, no scheme
                response = httpx.request(method, url + path, headers=headers, content=IMAGES[0])
                assert response.status_code == 401, (path, headers)
                assert response.headers["www-authenticate"] == "Bearer" and "guess" not in response.text
        assert "error" in httpx.post(f"{url}/v2/models/{FIRST}/infer").json()  # the protocol's shape
        assert httpx.post(f"{url}/predict", headers=good, content=IMAGES[0]).status_code == 200
        assert httpx.get(f"{url}/metrics", headers=good).status_code == 200

        client = tritonclient.InferenceServerClient(url.removeprefix("http://"))
        assert client.is_server_ready()
        with pytest.raises(InferenceServerException, match="needs an API key"):
            client.infer(FIRST, [images_input(IMAGES[:1], True)])
        result = client.infer(FIRST, [images_input(IMAGES[:1], True)], headers=good)
        assert result.as_numpy("logits").shape == (1, 10)
        client.close()


# The command line: several models, names, a key from the environment, and a graceful SIGTERM.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "inception_zoo", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not become ready")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, models):
    folder = tmp_path_factory.mktemp("served")
    return [save_weights(models[name], folder / f"{name}.safetensors") for name in (FIRST, SECOND)]


@pytest.fixture(scope="module")
def cli_server(model_files):
    """``inception-zoo serve`` of a folder and a named file, its key from the environment, batching slowly
    (requests wait 3 s for company, long enough to be in flight when SIGTERM comes)."""
    folder = model_files[0].parent
    process, url = start_server(
        "--weights", str(folder), "--weights", str(model_files[0]), "--name", "atto-again",
        "--max-wait-ms", "3000", "--max-batch-size", "64", env={"INCEPTION_ZOO_API_KEY": KEY},
    )  # fmt: skip
    yield process, url
    if process.poll() is None:
        process.kill()
        process.communicate()


AUTHORIZED = {"Authorization": f"Bearer {KEY}"}


def test_the_cli_serves_a_folder_and_a_named_model_with_a_key_from_the_environment(cli_server):
    _, url = cli_server
    assert httpx.get(f"{url}/info").status_code == 401
    info = httpx.get(f"{url}/info", headers=AUTHORIZED).json()
    assert list(info["models"]) == [SECOND, FIRST, "atto-again"]  # the folder's files by name, then the named one
    answer = httpx.post(f"{url}/predict?model=atto-again", headers=AUTHORIZED, content=IMAGES[0], timeout=60)
    assert answer.status_code == 200 and answer.json()["model"] == "atto-again"


def test_the_cli_pairs_weights_with_the_model_before_them_and_names_the_entry_before():
    from inception_zoo.cli import build_parser

    args = build_parser().parse_args(
        ["serve", "--model", "a", "--weights", "a.pth", "--weights", "b.safetensors", "--name", "b2", "--model", "c"]
    )
    assert args.served == [
        {"model": "a", "weights": "a.pth"},
        {"weights": "b.safetensors", "name": "b2"},
        {"model": "c"},
    ]


def test_the_cli_refuses_two_models_under_one_name(model_files, monkeypatch, capsys):
    from inception_zoo.cli import main

    monkeypatch.setenv("INCEPTION_ZOO_KEEP_FREED_MEMORY", "0")  # this test's process keeps its allocator
    assert main(["serve", "--port", "0", "--weights", str(model_files[0]), "--weights", str(model_files[0])]) == 2
    assert capsys.readouterr().err == (
        f"inception-zoo: error: two models would be served as '{FIRST}': give one a --name\n"
    )


def test_sigterm_answers_every_accepted_request_then_exits_zero(cli_server):
    """Requests wait in the batcher when SIGTERM arrives: each is answered, the server refuses new
    connections, and it exits 0; the key is never printed."""
    process, url = cli_server
    answers: list[int] = []

    def ask():
        response = httpx.post(f"{url}/predict", headers=AUTHORIZED, content=IMAGES[0], timeout=60)
        answers.append(response.status_code)

    clients = [threading.Thread(target=ask) for _ in range(6)]
    for client in clients:
        client.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # all six are accepted and waiting for the model
        samples = metric_samples(httpx.get(f"{url}/metrics", headers=AUTHORIZED).text)
        if samples.get(("inception_zoo_queue_depth", (("model", SECOND),))) == 6:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the requests never queued")
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)  # not accepting any more
    for client in clients:
        client.join(timeout=60)
    out, err = process.communicate(timeout=60)
    assert answers == [200] * 6
    assert process.returncode == 0, err[-2000:]
    assert "Traceback" not in err and KEY not in out + err
    assert "API key required" in out


def test_readiness_turns_off_when_the_shutdown_signal_arrives(models):
    from fastapi.testclient import TestClient

    from inception_zoo.serve.app import _server

    app = create_app(models[FIRST])
    with TestClient(app) as client:
        assert client.get("/v2/health/ready").status_code == 200 and client.get("/health").status_code == 200
        _server(app).handle_exit(signal.SIGTERM, None)
        assert client.get("/v2/health/ready").status_code == 503
        assert client.get("/health").json()["status"] == "shutting down"
        assert client.get(f"/v2/models/{FIRST}/ready").status_code == 503
        assert client.get("/v2/health/live").status_code == 200  # alive, finishing its work
