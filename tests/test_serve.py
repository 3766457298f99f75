"""The HTTP service: every endpoint, every bad input, a concurrent burst, and the web page in a real browser."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from conftest import bomb_png
from inception_zoo import create_model
from inception_zoo.serve import Limits, background_server, create_app

LABELS = [f"class {i}" for i in range(10)]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = create_model("inception_next_atto_cifar").eval()
    model.labels = LABELS
    return model


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model, Limits(max_bytes=200_000, max_pixels=1_000_000))) as client:
        yield client


def png(size=(40, 30), colour=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def expected_top(model, data: bytes, k: int = 5) -> list[int]:
    from inception_zoo import transforms_for

    with torch.inference_mode():
        x = transforms_for(model)(Image.open(io.BytesIO(data)).convert("RGB"))
        return model(x[None]).softmax(dim=1).topk(k).indices[0].tolist()


def test_predict_multipart_and_raw_body_give_the_models_answer(client, model):
    data = png()
    for response in (
        client.post("/predict", files={"file": ("x.png", data, "image/png")}),
        client.post("/predict", content=data, headers={"content-type": "image/png"}),
    ):
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["model"] == "inception_next_atto_cifar"
        assert [p["index"] for p in answer["predictions"]] == expected_top(model, data)
        assert all(p["label"] == LABELS[p["index"]] for p in answer["predictions"])
        scores = [p["score"] for p in answer["predictions"]]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
    assert len(client.post("/predict?topk=2", content=data).json()["predictions"]) == 2


def test_health_info_docs_and_page(client):
    assert client.get("/health").json() == {
        "status": "ok", "models": ["inception_next_atto_cifar"], "api_key_required": False
    }  # fmt: skip
    info = client.get("/info").json()
    assert info["default_model"] == "inception_next_atto_cifar"
    served = info["models"]["inception_next_atto_cifar"]
    assert served["num_labels"] == 10 and served["preprocessing"]["input_size"] == [3, 32, 32]
    assert info["limits"]["max_bytes"] == 200_000
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "multipart/form-data" in schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    page = client.get("/")
    assert page.status_code == 200 and 'type="file"' in page.text


@pytest.mark.parametrize(
    ("send", "status", "message"),
    [
        (dict(content=b""), 400, "no image"),
        (dict(files={"other": ("x.png", b"abc", "image/png")}), 400, "field named 'file'"),
        (dict(content=b"x" * 300_000), 413, "larger than the limit of 200,000 bytes"),
        (dict(content=bomb_png(5000, 4000)), 413, "5000x4000 = 20,000,000 pixels; the limit is 1,000,000"),
        (dict(content=bomb_png(50_000, 50_000)), 413, "the limit is 1,000,000 pixels"),
        (dict(content=b"GIF89a but not really an image"), 415, "not an image we can read"),
        (dict(content=png()[:60]), 422, "corrupt or truncated"),
        (dict(content=png(), params={"topk": 0}), 422, "topk must be between 1 and 100"),
    ],
    ids=["empty", "wrong-field", "too-many-bytes", "bomb", "giant-bomb", "not-an-image", "truncated", "bad-topk"],
)
def test_bad_requests_get_clear_json_errors_and_the_server_lives_on(client, send, status, message):
    response = client.post("/predict", **send)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert client.post("/predict", content=png()).status_code == 200  # the next request is served


def test_a_streamed_body_without_a_length_is_cut_off(client):
    def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    response = client.post("/predict", content=chunks())
    assert response.status_code == 413


def test_a_concurrent_burst_is_answered_in_batches(model):
    data = png(colour=(20, 180, 90))
    expected = expected_top(model, data)
    app = create_app(model, Limits(max_batch_size=8, max_wait_ms=50))

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            return await asyncio.gather(*(http.post("/predict", content=data) for _ in range(32)))

    with background_server(app) as url:
        responses = asyncio.run(burst(url))
        served = httpx.get(f"{url}/info").json()["models"]["inception_next_atto_cifar"]["served"]
    assert [r.status_code for r in responses] == [200] * 32
    assert all([p["index"] for p in r.json()["predictions"]] == expected for r in responses)
    assert served["images"] == 32 and served["batches"] < 32  # batched, not one by one


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def chromium(tmp_path):
    """Headless Chromium on this closed machine (nothing beyond localhost can be reached)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium and chromium-driver (CI installs them)")
def test_the_web_page_in_headless_chromium(model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    image = tmp_path / "upload.png"
    image.write_bytes(png(colour=(30, 60, 220)))
    with background_server(create_app(model)) as url, chromium(tmp_path) as driver:
        driver.get(url + "/")
        wait = WebDriverWait(driver, 30)
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "model"), "inception_next_atto"))
        driver.find_element(By.ID, "file").send_keys(str(image))
        driver.find_element(By.ID, "submit").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results .prediction")) == 5)
        rows = driver.find_elements(By.CSS_SELECTOR, "#results .prediction")
        labels = [row.find_element(By.CLASS_NAME, "label").text for row in rows]
        widths = [row.find_element(By.CLASS_NAME, "bar").get_attribute("style") for row in rows]
    assert labels == [LABELS[i] for i in expected_top(model, image.read_bytes())]
    assert all("width" in w for w in widths)


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium and chromium-driver (CI installs them)")
def test_the_web_page_asks_for_the_key_and_offers_the_models(model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    image = tmp_path / "upload.png"
    image.write_bytes(png(colour=(30, 60, 220)))
    app = create_app({"first": model, "second": model}, optimize=False, api_key="k3y")
    with background_server(app) as url, chromium(tmp_path) as driver:
        driver.get(url + "/")
        wait = WebDriverWait(driver, 30)
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "model"), "needs an API key"))
        key = driver.find_element(By.ID, "key")
        assert key.is_displayed()
        key.send_keys("k3y", Keys.TAB)  # leaving the field tells the page it changed
        wait.until(lambda d: d.find_element(By.ID, "choice").is_displayed())
        Select(driver.find_element(By.ID, "choice")).select_by_value("second")
        driver.find_element(By.ID, "file").send_keys(str(image))
        driver.find_element(By.ID, "submit").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results .prediction")) == 5)
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#results .prediction .label")]
    assert labels == [LABELS[i] for i in expected_top(model, image.read_bytes())]


@pytest.mark.skipif(_chromium() is None, reason="needs Debian's chromium and chromium-driver (CI installs them)")
def test_the_api_docs_render_offline_in_headless_chromium(model, tmp_path):
    """Swagger UI draws every operation with the scripts the package ships (no CDN is reachable here)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with background_server(create_app(model, optimize=False)) as url, chromium(tmp_path) as driver:
        driver.get(url + "/docs")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        paths = {element.text for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/predict", "/info", "/health"} <= {path.replace("\u200b", "") for path in paths}
