"""The command line: a thin shell over the library, checked end to end in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inception_zoo import list_models, model_info
from inception_zoo.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inception_zoo", *args], capture_output=True, text=True, timeout=300)


def test_list_shows_every_model():
    result = run("list")
    assert result.returncode == 0, result.stderr
    for name in list_models():
        assert name in result.stdout
    assert "23.83" in result.stdout  # inception_v3's params in millions


def test_list_json_is_model_info(capsys):
    assert main(["list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_models()
    v4 = next(r for r in rows if r["name"] == "inception_v4")
    assert v4["params"] == model_info("inception_v4").params == 42_679_816
    assert v4["paper"]["arxiv"] == "1602.07261"


def test_list_markdown_and_pattern(capsys):
    assert main(["list", "inception_v*", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| name |") and "inception_v3" in out and "googlenet" not in out


def test_info_prints_paper_preprocessing_and_stage_shapes(capsys):
    assert main(["info", "inception_v3"]) == 0
    out = capsys.readouterr().out
    assert "Rethinking the Inception Architecture" in out and "bicubic" in out and "23,834,568" in out
    assert "Mixed_6e            1 x 768 x 17 x 17" in out
    assert "Mixed_7c            1 x 2048 x 8 x 8" in out


def test_info_json_at_another_size(capsys):
    assert main(["info", "inception_resnet_v2", "--json", "--image-size", "160"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["shapes"]["Conv2d_7b_1x1"] == [1, 1536, 3, 3]


@pytest.mark.parametrize("args, message", [(["info", "inceptoin_v3"], "did you mean inception_v3")])
def test_errors_are_one_clear_line(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_weights_lists_every_entry(capsys):
    assert main(["weights", "inception_v3", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "timm:inception_v3.tf_in1k (default)" in out and "torchvision:IMAGENET1K_V1" in out and "77.29" in out
    assert main(["weights", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["model"] for e in entries} >= {"googlenet", "inception_resnet_v1"}
