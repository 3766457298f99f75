"""What a new user hit on the command line: each command as typed, its exit code, its message, and that
nothing else was lost or changed. Bad input is one line naming what was wrong; never a traceback."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import bomb_png
from inception_zoo import create_model, save_weights
from inception_zoo.cli import COMMANDS, main
from inception_zoo.data.images import UnreadableImage, read_rgb

MODEL = "inception_next_atto_cifar"  # the quickest network


def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command as a user types it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "inception_zoo", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def one_line_error(done: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("inception-zoo: error:")]
    assert len(lines) == 1, done.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_weights(create_model(MODEL), tmp_path_factory.mktemp("weights") / "m.safetensors")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Two ordinary images and a decompression bomb (a header that declares 30000 x 30000 pixels)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)).save(root / f"image{i}.png")
    (root / "bomb.png").write_bytes(bomb_png(30000, 30000))
    return root


# 1. A decompression bomb is a named, counted skip in predict, train, eval and quantize.


def test_predict_names_the_bomb_and_answers_for_the_rest(folder, weights, capsys):
    assert main(["predict", str(folder), "--weights", str(weights), "--json"]) == 1  # 1: an image was unreadable
    rows = {Path(p["path"]).name: p for p in json.loads(capsys.readouterr().out)["predictions"]}
    assert "pixels" in rows["bomb.png"]["error"] and rows["bomb.png"]["top"] == []
    assert all(rows[f"image{i}.png"]["error"] is None and len(rows[f"image{i}.png"]["top"]) == 5 for i in range(2))


def test_train_and_eval_skip_the_bomb_and_say_so(tmp_path, capsys):
    from test_train import make_folder

    data = make_folder(tmp_path / "data")
    for split in ("train", "val"):
        (data / split / "red" / "bomb.png").write_bytes(bomb_png(30000, 30000))
    common = ["--model", MODEL, "--data", str(data), "--output", str(tmp_path / "run"), "--epochs", "1"]
    assert main(["train", *common, "--batch-size", "6", "--img-size", "16", "--lr", "3e-3"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 unreadable images" in out
    assert "bomb.png" in (tmp_path / "run" / "train.log").read_text()
    assert main(["eval", "--weights", str(tmp_path / "run" / "model.safetensors"), "--data", str(data / "val")]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 unreadable images" in out and "bomb.png" in out


def test_quantize_skips_the_bomb_among_its_calibration_images(folder, weights, tmp_path, capsys):
    output = tmp_path / "m.int8.onnx"
    code = main(["quantize", "--weights", str(weights), "--calibration", str(folder), "--output", str(output),
                 "--min-sqnr", "0"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0 and output.is_file()
    assert "skipped" in captured.err and "bomb.png" in captured.err
    assert "calibrated on 2 images" in captured.out


# 2. The demo keeps what it did not write, and checks its arguments before it touches anything.


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inception_zoo.demo", *args], capture_output=True, text=True,
                          timeout=600)  # fmt: skip


def test_the_demo_refuses_bad_arguments_and_an_earlier_run_without_touching_the_folder(tmp_path):
    output = tmp_path / "demo"
    output.mkdir()
    (output / "notes.txt").write_text("my notes")
    (output / "last.pt").write_bytes(b"an earlier run")
    before = snapshot(output)
    done = demo("--output", str(output), "--epochs", "0")
    assert done.returncode == 2 and "must be 1 or more" in done.stderr and "Traceback" not in done.stderr
    done = demo("--output", str(output), "--epochs", "1")
    assert done.returncode == 2 and "holds an earlier run: pass --overwrite" in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(output) == before


def test_the_demo_overwrites_its_own_run_only(tmp_path):
    output = tmp_path / "demo"
    output.mkdir()
    (output / "notes.txt").write_text("my notes")
    (output / "model-confusion.png").write_bytes(b"what 'inception-zoo eval' wrote here")
    (output / "last.pt").write_bytes(b"an earlier run")
    done = demo("--output", str(output), "--epochs", "1", "--overwrite")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (output / "notes.txt").read_text() == "my notes"
    assert (output / "model-confusion.png").read_bytes() == b"what 'inception-zoo eval' wrote here"
    assert torch.load(output / "last.pt", weights_only=True)["epoch"] == 1  # the new run's
    assert "best.safetensors" in done.stdout  # it says which file holds the best epoch


# 3. A corrupt weights file, and outputs to folders that cannot take them.


@pytest.mark.parametrize("command", ["predict", "eval", "serve"])
def test_a_corrupt_safetensors_file_is_one_line(command, tmp_path, folder):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 64)
    extra = {"predict": [str(folder)], "eval": ["--data", str(folder)], "serve": []}[command]
    one_line_error(run(command, *extra, "--weights", str(bad)), 2, str(bad), "not a readable safetensors file")


def test_outputs_to_a_missing_folder_are_refused_naming_the_path_asked_for(weights, tmp_path):
    missing = tmp_path / "no" / "such"
    for args in (
        ["convert", str(weights), str(missing / "c.safetensors")],
        ["export", "--weights", str(weights), "--output", str(missing / "m.onnx")],
        ["export", "--weights", str(weights), "--format", "torch-export", "--output", str(missing / "m.pt2")],
        ["quantize", "--weights", str(weights), "--dataset", "digits", "--max-images", "8",
         "--output", str(missing / "q.onnx")],
    ):  # fmt: skip
        done = run(*args)
        one_line_error(done, 2, f"cannot write {missing}", "does not exist")
        assert ".part" not in done.stderr
    assert not (tmp_path / "no").exists()  # nothing created on the way


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_an_output_to_a_read_only_folder_is_refused(weights, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        one_line_error(run("convert", str(weights), str(locked / "c.safetensors")), 2, "is not writable")
    finally:
        locked.chmod(0o755)


def test_outputs_get_a_new_files_usual_permissions(weights, tmp_path, capsys):
    umask = os.umask(0)
    os.umask(umask)
    assert main(["convert", str(weights), str(tmp_path / "c.safetensors")]) == 0
    assert main(["export", "--weights", str(weights), "--output", str(tmp_path / "m.onnx"), "--static-size"]) == 0
    for name in ("c.safetensors", "m.onnx"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors", "m.onnx"]  # no hidden leftovers


# 4. Arguments that used to end in tracebacks.


def test_arguments_that_used_to_end_in_tracebacks():
    done = run("quantize", "--model", MODEL, "--dataset", "digits", "--max-images", "0")
    assert done.returncode == 2 and "must be 1 or more" in done.stderr and "Traceback" not in done.stderr
    one_line_error(run("info", "inception_v3", "--image-size", "40"), 2, "at least 75x75 pixels, got 40x40")
    done = run("serve", "--model", MODEL, "--port", "99999")
    assert done.returncode == 2 and "a port is 0 to 65535" in done.stderr and "serving" not in done.stdout


def test_a_port_in_use_is_said_before_serving(weights):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--weights", str(weights), "--port", str(port))
    one_line_error(done, 2, f"cannot serve on 127.0.0.1:{port}")
    assert "serving" not in done.stdout


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["weights", "--json"]])
def test_a_closed_pipe_ends_the_output_quietly(argv):
    """``inception-zoo list | head -1``: the reader goes away; no error, no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "inception_zoo", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)  # fmt: skip
    process.stdout.close()  # before anything is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, 141) and stderr == ""


# 5. 16-bit images are converted, not clipped to white.


def test_sixteen_bit_images_keep_their_content(weights, tmp_path, capsys):
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)
    for name, pixels in (("ramp", ramp), ("reversed", ramp[::-1, ::-1].copy())):
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
    assert Image.open(tmp_path / "ramp.png").mode.startswith("I")
    rgb = np.asarray(read_rgb(tmp_path / "ramp.png"))
    np.testing.assert_array_equal(rgb[..., 0], (ramp >> 8).astype(np.uint8))
    assert main(["predict", str(tmp_path), "--weights", str(weights), "--json"]) == 0
    first, second = (p["top"] for p in json.loads(capsys.readouterr().out)["predictions"])
    assert [t["score"] for t in first] != [t["score"] for t in second]


def test_odd_images_are_named_skips_or_converted(tmp_path):
    Image.new("CMYK", (20, 20), (10, 200, 30, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "one.png")
    Image.fromarray(np.random.rand(8, 8).astype(np.float32)).save(tmp_path / "float.tiff")
    (tmp_path / "empty.png").write_bytes(b"")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (9, 9, 9)).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:80])
    assert read_rgb(tmp_path / "cmyk.jpg").mode == "RGB" and read_rgb(tmp_path / "one.png").size == (1, 1)
    for name, kind in (("float.tiff", "unsupported"), ("empty.png", "not_an_image"), ("cut.png", "corrupt")):
        with pytest.raises(UnreadableImage) as error:
            read_rgb(tmp_path / name)
        assert error.value.kind == kind, name
    with pytest.raises(UnreadableImage, match=r"9000x9000 = 81,000,000 pixels; the limit is 10,000,000") as error:
        read_rgb(bomb_png(9000, 9000), max_pixels=10**7)  # from the header alone: the data is not there
    assert error.value.kind == "too_large"


# 6. For inference, a classifier the file cannot supply is an error, not a warning.


def test_inference_refuses_an_untrained_classifier(tmp_path, folder):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    ours = save_weights(create_model(MODEL, num_classes=3), tmp_path / "three.safetensors")
    with safe_open(str(ours), "pt") as f:
        metadata = f.metadata()
    metadata["config"] = "{}"  # a file whose options no longer say its 3 classes
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(ours), bad, metadata=metadata)
    for command in (["predict", str(folder)], ["export", "--output", str(tmp_path / "m.onnx")]):
        one_line_error(run(*command, "--weights", str(bad)), 2, "3-class classifier", "untrained classifier")
    with pytest.warns(UserWarning, match="new 10-class classifier"):  # fine-tuning keeps the warning
        create_model(MODEL, weights=bad)


def test_a_reset_classifier_is_saved_as_such(tmp_path):
    from inception_zoo import load_model

    model = create_model(MODEL)
    model.reset_classifier(4)
    again = load_model(save_weights(model, tmp_path / "four.safetensors"))
    assert again.num_classes == 4 and again.labels is None


# 7 is tests/test_train.py's Ctrl-C test: the resumed epoch's row counts every batch.

# 8. Random bytes are not a dangerous file, and no message suggests weights_only=False.


def test_random_bytes_are_not_called_dangerous(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(os.urandom(4096))
    done = run("predict", "x.png", "--model", MODEL, "--weights", str(junk))
    one_line_error(done, 2, "junk.pth is not a readable checkpoint")
    assert "could run code" not in done.stderr and "weights_only" not in done.stderr
    done = run("train", "--resume", str(junk))
    one_line_error(done, 2, "not a readable training checkpoint")
    assert "Please file an issue" not in done.stderr


# 9. The end of a run says which file holds what; the NaN stop says what was saved.


def test_a_nan_before_any_checkpoint_says_nothing_was_saved(tmp_path, monkeypatch):
    from inception_zoo.data import datasets
    from inception_zoo.errors import TrainingDiverged
    from inception_zoo.train import TrainConfig, train
    from test_train import _PoisonedAfter

    monkeypatch.setattr(datasets.Transformed, "__getitem__", lambda self, i: self.dataset[i])
    config = TrainConfig(model=MODEL, output=str(tmp_path / "run"), epochs=2, batch_size=4, img_size=16)
    with pytest.raises(TrainingDiverged) as error:
        train(config, train_set=_PoisonedAfter(good=2), val_set=_PoisonedAfter(good=10**9))
    assert "nothing was saved: no epoch had finished" in str(error.value)
    assert "default recipe" not in str(error.value)  # it is the recipe in use


# 11. The API docs work offline: their scripts come from the package.


def test_the_api_docs_load_nothing_from_elsewhere():
    from fastapi.testclient import TestClient

    from inception_zoo.serve import create_app

    with TestClient(create_app(create_model(MODEL), optimize=False)) as client:
        page = client.get("/docs").text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert any(s.endswith(".js") for s in sources) and any(s.endswith(".css") for s in sources), sources
        assert all(source.startswith("/") for source in sources), sources  # this server's own
        assert "cdn" not in page
        for source in sources:
            assert client.get(source).status_code == 200, source


# 12. Messages in the command line's words; no noise.


def test_messages_name_the_flags(weights, tmp_path):
    one_line_error(run("train", "--model", MODEL, "--dataset", "digits", "--lr", "-1"), 2, "--lr must be > 0")
    one_line_error(run("train", "--dataset", "digits"), 2, "--model is needed")
    from test_train import make_folder

    data = make_folder(tmp_path / "data")
    googlenet = tmp_path / "googlenet.pth"
    import torchvision

    torch.save(torchvision.models.googlenet(init_weights=False, aux_logits=True).state_dict(), googlenet)
    one_line_error(run("predict", str(data), "--model", "inception_v3", "--weights", str(googlenet)), 2,
                   "it is for --model googlenet")  # fmt: skip
    one_line_error(run("predict", str(data), "--model", "googlenet_paper"), 2, "give a checkpoint file with --weights")
    one_line_error(run("list", "foo*"), 2, "no network matches 'foo*'")


def test_quantize_is_quiet_and_counts_what_it_was_asked(weights, tmp_path):
    done = run("quantize", "--weights", str(weights), "--dataset", "digits", "--max-images", "64",
               "--output", str(tmp_path / "q.onnx"))  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING" not in done.stderr and "calibrated on 64 images" in done.stdout


def test_torch_export_warns_of_nothing(weights, tmp_path):
    done = run("export", "--weights", str(weights), "--format", "torch-export", "--output", str(tmp_path / "m.pt2"))
    assert done.returncode == 0 and "warn" not in done.stderr.lower(), done.stderr[-2000:]


def test_help_shows_each_options_default():
    for argv, shown in ((["predict", "--help"], ["--topk TOPK", "(default: 5)", "(default: 32)"]),
                        (["train", "--help"], ["default: 10", "(default: 32)"])):  # fmt: skip
        done = run(*argv)
        assert done.returncode == 0 and all(text in " ".join(done.stdout.split()) for text in shown), argv


# Every command: --help, and a missing or bad argument, never a traceback.

BAD_ARGUMENTS = {
    "list": ["zzz*"],
    "info": ["no_such_network"],
    "diagram": ["inception_v3", "--block", "no_such_layer"],
    "weights": ["zzz*"],
    "recipes": ["--no-such-flag"],
    "predict": ["x.png", "--weights", "missing.safetensors"],
    "embed": ["x.png"],
    "fid": ["only_one_set"],
    "fid-stats": ["missing_folder"],
    "kid": ["a", "b", "--subsets", "0"],
    "inception-score": ["missing_folder", "--splits", "0"],
    "convert": ["missing.pth", "out.safetensors"],
    "serve": [],
    "export": [],
    "quantize": ["--max-images", "-3"],
    "train": ["--epochs", "0"],
    "eval": [],
}


def test_every_command_has_a_bad_argument_case():
    assert set(BAD_ARGUMENTS) == {command.name for command in COMMANDS}


@pytest.mark.parametrize("name, args", BAD_ARGUMENTS.items(), ids=list(BAD_ARGUMENTS))
def test_a_bad_argument_is_a_message_not_a_traceback(name, args, tmp_path):
    done = run(name, *args, cwd=tmp_path)
    assert done.returncode == 2, (name, done.stderr[-2000:])
    assert "Traceback" not in done.stderr and done.stderr.strip(), name
    assert not any(tmp_path.iterdir())  # nothing written
