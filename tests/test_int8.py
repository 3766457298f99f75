"""int8 through ONNX Runtime: the file really is quantised, its logits are measured against fp32 on
real images (scikit-learn's handwritten digits), and a too-lossy result is refused without a file."""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
import pytest
import torch

from conftest import randomize_batchnorm
from inception_zoo import create_model, save_weights
from inception_zoo.cli import main
from inception_zoo.data.datasets import DigitsDataset
from inception_zoo.data.transforms import transforms_for
from inception_zoo.optimize import quantize_int8
from inception_zoo.runtime import onnx_session

NAME = "googlenet_cifar"


def digits(model, split: str, count: int) -> torch.Tensor:
    data = DigitsDataset(split, size=32, transform=transforms_for(model))
    return torch.stack([data[i][0] for i in range(count)])


def test_int8_file_is_quantized_measured_and_labelled(tmp_path):
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model(NAME)).eval()
    calibration, check = digits(model, "train", 32), digits(model, "val", 24)
    report = quantize_int8(model, tmp_path / "m.int8.onnx", calibration=calibration.split(8), check=check)

    assert (report.calibration_images, report.check_images) == (32, 24)
    # The report's figures are what the written file computes.
    got = onnx_session(report.path).run(None, {"images": check.numpy()})[0]
    with torch.inference_mode():
        expected = model(check).numpy()
    sqnr = 10 * math.log10(np.sum(expected**2) / np.sum((got - expected) ** 2))
    assert sqnr == pytest.approx(report.sqnr_db, abs=1e-3)
    assert 20 <= sqnr < 80  # quantised, so not exact; calibrated, so close
    assert report.top1_agreement == np.mean(got.argmax(1) == expected.argmax(1))

    written = onnx.load(str(report.path))
    ops = {node.op_type for node in written.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    # Every conv and the classifier read int8 weights (through a DequantizeLinear of an int8 tensor).
    int8 = {t.name for t in written.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    dequantized = {n.output[0]: n.input[0] for n in written.graph.node if n.op_type == "DequantizeLinear"}
    layers = [n for n in written.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    assert len(layers) == 1 + sum(isinstance(m, torch.nn.Conv2d) for n, m in model.named_modules() if "aux" not in n)
    assert all(dequantized.get(n.input[1]) in int8 for n in layers)
    metadata = {p.key: p.value for p in written.metadata_props}
    assert metadata["inception_zoo.model"] == NAME
    assert json.loads(metadata["inception_zoo.int8"])["calibration_images"] == 32


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    model = create_model(NAME).eval()
    images = torch.zeros(2, 3, 32, 32)
    with pytest.raises(ValueError, match=r"\*\.onnx"):
        quantize_int8(model, tmp_path / "m.int8.pt", calibration=images)
    with pytest.raises(ValueError, match="N x C x H x W"):
        quantize_int8(model, tmp_path / "m.onnx", calibration=images[0])
    with pytest.raises(ValueError, match="no images"):
        quantize_int8(model, tmp_path / "m.onnx", calibration=[])
    assert not list(tmp_path.iterdir())


def test_cli_refuses_a_too_lossy_model_and_writes_nothing(tmp_path, capsys):
    torch.manual_seed(0)  # the quickest network to export
    weights = save_weights(randomize_batchnorm(create_model("inception_next_atto_cifar")), tmp_path / "m.safetensors")
    output = tmp_path / "m.int8.onnx"
    argv = ["quantize", "--weights", str(weights), "--dataset", "digits", "--max-images", "16", "--output", str(output)]
    assert main([*argv, "--min-sqnr", "1000"]) == 1
    assert "SQNR" in capsys.readouterr().err and not output.exists()
    assert main(["quantize", "--weights", str(weights), "--output", str(output)]) == 2
    assert "--calibration" in capsys.readouterr().err
