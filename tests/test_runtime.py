"""Exported and int8 ONNX files used like the network: load_model, predict, evaluate, serve, the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import onnx
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from conftest import max_relative_error, randomize_batchnorm
from inception_zoo import create_model, load_model, predict, transforms_for
from inception_zoo.cli import main
from inception_zoo.data.datasets import DigitsDataset
from inception_zoo.evaluate import evaluate
from inception_zoo.export import export
from inception_zoo.optimize import quantize_int8
from inception_zoo.runtime import OnnxModel
from inception_zoo.serve import create_app

NAME = "inception_next_atto_cifar"  # the quickest network to export
LABELS = [f"digit {i}" for i in range(10)]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model(NAME, num_classes=10)).eval()
    model.labels = LABELS
    return model


@pytest.fixture(scope="module")
def files(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    fp32 = export(model, root / "m.onnx").path
    data = DigitsDataset("train", size=32, transform=transforms_for(model))
    calibration = torch.stack([data[i][0] for i in range(32)])
    int8 = quantize_int8(model, root / "m.int8.onnx", calibration=calibration.split(8)).path
    return fp32, int8


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(root / f"image{i}.png")
    return root


def test_an_exported_file_is_the_model(model, files):
    fp32, int8 = files
    onnx_model = load_model(fp32)
    assert isinstance(onnx_model, OnnxModel) and onnx_model.quantization is None
    assert (onnx_model.name, onnx_model.labels, onnx_model.num_classes) == (NAME, LABELS, 10)
    assert onnx_model.preprocessing == model.preprocessing
    x = torch.randn(3, 3, 32, 32)
    with torch.inference_mode():
        assert max_relative_error(onnx_model(x), model(x)) <= 1e-4
    quantized = load_model(int8)
    assert quantized.quantization["weight_bits"] == 7 and quantized.labels == LABELS


def test_wrong_input_and_foreign_or_broken_files_are_refused_clearly(files, tmp_path):
    onnx_model = OnnxModel(files[0])
    with pytest.raises(ValueError, match=r"N x 3 x H x W .* got 2 x 1 x 32 x 32"):
        onnx_model(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="got 3 x 32 x 32"):
        onnx_model(torch.zeros(3, 32, 32))
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(files[0].read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a readable ONNX file"):
        load_model(truncated)
    foreign = tmp_path / "foreign.onnx"  # a valid ONNX graph that no inception-zoo command wrote
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])],
    )  # fmt: skip
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    with pytest.raises(ValueError, match="not an ONNX file of ours"):
        load_model(foreign)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.onnx")


def test_predict_and_evaluate_run_the_int8_file_and_agree_with_fp32(model, files, images):
    fp32, int8 = map(OnnxModel, files)
    ours, exported = predict(model, [images], topk=3), predict(fp32, [images], topk=3)
    for a, b in zip(ours, exported, strict=True):
        assert [t["index"] for t in a.top] == [t["index"] for t in b.top]
        assert [t["score"] for t in a.top] == pytest.approx([t["score"] for t in b.top], rel=1e-4)
    assert all(len(p.top) == 3 and p.top[0]["label"].startswith("digit") for p in predict(int8, [images], topk=3))
    digits = DigitsDataset("val", size=32)
    small = torch.utils.data.Subset(digits, range(40))
    small.classes = digits.classes
    eager, quantized = evaluate(model, small, batch_size=16), evaluate(int8, small, batch_size=16)
    assert quantized.count == eager.count == 40
    assert abs(quantized.top1 - eager.top1) <= 10  # calibrated int8: at most 4 of 40 answers change


def test_cli_predicts_with_an_onnx_file_and_export_refuses_one(files, images, capsys):
    assert main(["predict", str(images), "--weights", str(files[1]), "--json", "--topk", "2"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["model"] == NAME and len(answer["predictions"]) == 3
    assert main(["export", "--weights", str(files[0])]) == 2
    assert "not an ONNX file" in capsys.readouterr().err


def test_serve_runs_the_int8_file_as_it_is(files):
    int8 = OnnxModel(files[1])
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(buffer, format="PNG")
    with TestClient(create_app(int8)) as client:
        info = client.get("/info").json()["models"][int8.name]
        assert info["runtime"] == "onnxruntime" and info["quantization"]["weight_bits"] == 7
        answer = client.post("/predict?topk=2", content=buffer.getvalue(), headers={"content-type": "image/png"})
        assert answer.status_code == 200, answer.text
        assert [p["label"] for p in answer.json()["predictions"]][0].startswith("digit")
