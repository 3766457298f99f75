"""Exports compute what the model computes: ONNX (run by onnxruntime) for every network, torch.export too."""

from __future__ import annotations

import json
import os

import onnx
import pytest
import torch

from conftest import one_of_each_kind, randomize_batchnorm
from inception_zoo import create_model, list_models
from inception_zoo.cli import main
from inception_zoo.export import ExportMismatch, export

# One of each kind of network (the _cifar profiles and the other sizes are built from the same blocks).
NETWORKS = one_of_each_kind()


def built(name: str):
    torch.manual_seed(0)
    return randomize_batchnorm(create_model(name))


@pytest.mark.parametrize("name", NETWORKS)
def test_onnx_export_matches_the_model(name, tmp_path):
    check_onnx_export(name, tmp_path)


@pytest.mark.skipif(not os.environ.get("INCEPTION_ZOO_SLOW"), reason="set INCEPTION_ZOO_SLOW=1 (make test-slow)")
@pytest.mark.parametrize("name", [n for n in list_models() if n not in NETWORKS])
def test_onnx_export_of_every_other_member(name, tmp_path):
    check_onnx_export(name, tmp_path)


def check_onnx_export(name, tmp_path):
    model = built(name)
    report = export(model, tmp_path / f"{name}.onnx")
    assert report.dynamic_axes[0] == "batch"
    assert [c["input_shape"][0] for c in report.checks][:2] == [1, 3]  # two batch sizes at least
    assert max(c["max_relative_error"] for c in report.checks) <= 1e-4
    if "height" in report.dynamic_axes:  # a second image size was checked too
        assert len({tuple(c["input_shape"][2:]) for c in report.checks}) == 2
    meta = {p.key: p.value for p in onnx.load(report.path, load_external_data=False).metadata_props}
    assert meta["inception_zoo.model"] == name
    assert json.loads(meta["inception_zoo.preprocessing"])["input_size"] == list(model.preprocessing.input_size)
    assert json.loads(meta["inception_zoo.labels"]) == model.labels


@pytest.mark.parametrize("name", ["googlenet", "inception_next_atto"])
def test_torch_export_matches_the_model(name, tmp_path):
    report = export(built(name), tmp_path / f"{name}.pt2", format="torch-export")
    assert max(c["max_relative_error"] for c in report.checks) <= 1e-4
    extra = {"inception_zoo.json": ""}
    torch.export.load(report.path, extra_files=extra)
    assert json.loads(extra["inception_zoo.json"])["inception_zoo.model"] == name


def test_an_export_that_differs_is_deleted_not_reported(tmp_path, monkeypatch):
    from inception_zoo import export as export_module

    model = built("inception_next_atto")
    real_runner = export_module._runner
    monkeypatch.setattr(export_module, "_runner", lambda path, fmt: lambda x: real_runner(path, fmt)(x) * 1.01)
    with pytest.raises(ExportMismatch, match="max relative error 1.00e-02 > 0.0001"):
        export(model, tmp_path / "m.onnx", dynamic_spatial=False)
    assert not (tmp_path / "m.onnx").exists()


def test_bad_export_requests(tmp_path):
    model = create_model("inception_next_atto_cifar")
    with pytest.raises(ValueError, match="named \\*.onnx"):
        export(model, tmp_path / "m.pt2", format="onnx")
    with pytest.raises(ValueError, match="format must be one of"):
        export(model, tmp_path / "m.tflite", format="tflite")


def test_the_export_command(tmp_path, capsys):
    from inception_zoo import save_weights

    weights = save_weights(create_model("inception_next_atto_cifar"), tmp_path / "m.safetensors")
    output = tmp_path / "m.onnx"
    assert main(["export", "--weights", str(weights), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "checked against the eager model" in out and "dynamic batch, height, width" in out
    import onnxruntime

    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "images"
