"""Training: short real runs on tiny generated data, exact resume, bad data, NaN stop, DDP under torchrun."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from inception_zoo import load_model
from inception_zoo.train import RECIPES, Interrupted, TFRMSprop, TrainConfig, TrainingDiverged, lr_factor, train

MODEL = "inception_next_atto_cifar"  # the cheapest network: 0.16 GMACs at 32x32, 0.04 at 16x16
COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def make_folder(root: Path, per_class: int = 8, size: int = 20, seed: int = 0) -> Path:
    """root/{train,val}/<colour>/<n>.png: noisy images whose class is their dominant colour."""
    gen = torch.Generator().manual_seed(seed)
    for split, count in (("train", per_class), ("val", per_class // 2)):
        for name, rgb in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                noise = torch.randint(-40, 40, (size, size, 3), generator=gen)
                pixels = (torch.tensor(rgb) + noise).clamp(0, 255).to(torch.uint8).numpy()
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def tiny(tmp_path: Path, **overrides) -> TrainConfig:
    values = dict(
        model=MODEL, data=str(tmp_path / "data"), output=str(tmp_path / "run"), epochs=2, batch_size=6,
        img_size=16, augment="cifar", lr=3e-3,
    )  # fmt: skip
    return TrainConfig(**(values | overrides))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "data")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def weights_of(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(path)


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights_of(a), weights_of(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


def test_a_short_run_learns_and_leaves_every_record(tmp_path, data):
    (data / "train" / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    result = train(tiny(tmp_path, epochs=3))
    run = tmp_path / "run"
    for name in ("last.pt", "model.safetensors", "best.safetensors", "metrics.csv", "curves.png", "train.log",
                 "config.json"):  # fmt: skip
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    rows = read_csv(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5", "images_per_s"} <= rows[0].keys()
    assert float(rows[-1]["val_top1"]) > 50  # three colours: chance is 33%
    # The corrupt image was skipped, counted and named; the run went on.
    assert sum(int(r["skipped"]) for r in rows) == 3
    assert result.unreadable == [str(data / "train" / "red" / "broken.png")] * 3
    assert "broken.png" in (run / "train.log").read_text()
    resolved = json.loads((run / "config.json").read_text())["resolved"]
    assert resolved["recipe"]["name"] == "default" and resolved["lr"] == 3e-3 and resolved["steps_per_epoch"] == 4
    # The final weights rebuild with the run's classes and preprocessing.
    model = load_model(run / "model.safetensors")
    assert model.labels == ["blue", "green", "red"]
    assert model.preprocessing.input_size == (3, 16, 16)


def test_resume_after_an_epoch_is_exact_to_the_bit(tmp_path, data):
    # The v3 recipe exercises TF RMSProp, gradient clipping, label smoothing and the weight average.
    options = dict(recipe="inception_v3", lr=1e-3, ema_decay=0.9)
    train(tiny(tmp_path, output=str(tmp_path / "straight"), **options))
    train(tiny(tmp_path, output=str(tmp_path / "stopped"), epochs=1, **options))
    train(TrainConfig(resume=str(tmp_path / "stopped" / "last.pt"), epochs=2))
    for name in ("model.safetensors", "model_ema.safetensors"):
        assert_same_weights(tmp_path / "straight" / name, tmp_path / "stopped" / name)
    straight = read_csv(tmp_path / "straight" / "metrics.csv")
    resumed = read_csv(tmp_path / "stopped" / "metrics.csv")
    assert [r["val_loss"] for r in straight] == [r["val_loss"] for r in resumed]


class _CtrlCAfter(torch.utils.data.Dataset):
    """A data set that presses Ctrl-C (a real SIGINT) while its n-th image is read."""

    def __init__(self, dataset, n: int):
        self.dataset, self.n, self.calls = dataset, n, 0
        self.classes = dataset.classes

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        self.calls += 1
        if self.calls == self.n:
            os.kill(os.getpid(), signal.SIGINT)
        return self.dataset[index]


def test_ctrl_c_saves_the_batch_it_stopped_at_and_resume_is_exact(tmp_path, data):
    from inception_zoo.data.datasets import ImageFolder

    train(tiny(tmp_path, output=str(tmp_path / "straight")))
    train_set, val_set = ImageFolder(data / "train"), ImageFolder(data / "val")
    with pytest.raises(Interrupted, match="batch 2"):
        train(tiny(tmp_path, output=str(tmp_path / "stopped")), train_set=_CtrlCAfter(train_set, 8), val_set=val_set)
    checkpoint = torch.load(tmp_path / "stopped" / "last.pt", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["batch"]) == (0, 2)
    train(TrainConfig(resume=str(tmp_path / "stopped" / "last.pt")))
    assert_same_weights(tmp_path / "straight" / "model.safetensors", tmp_path / "stopped" / "model.safetensors")
    # ... and the stopped epoch's row counts every batch of it, those before the stop too.
    straight, resumed = read_csv(tmp_path / "straight" / "metrics.csv"), read_csv(tmp_path / "stopped" / "metrics.csv")
    same = ("epoch", "step", "lr", "train_loss", "train_top1", "skipped", "val_loss", "val_top1")
    assert [{k: r[k] for k in same} for r in resumed] == [{k: r[k] for k in same} for r in straight]


class _PoisonedAfter(torch.utils.data.Dataset):
    """Tensors that turn into NaN after ``good`` reads (ignores the transform: it yields tensors)."""

    classes = ["a", "b"]

    def __init__(self, good: int):
        self.good, self.calls = good, 0

    def __len__(self):
        return 8

    def __getitem__(self, index):
        self.calls += 1
        image = torch.full((3, 16, 16), float(index % 2))
        return (image * float("nan") if self.calls > self.good else image), index % 2


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    from inception_zoo.data import datasets

    monkeypatch.setattr(datasets.Transformed, "__getitem__", lambda self, i: self.dataset[i])
    config = TrainConfig(model=MODEL, output=str(tmp_path / "run"), epochs=3, batch_size=4, img_size=16)
    with pytest.raises(TrainingDiverged, match="epoch 2, batch 1"):
        train(config, train_set=_PoisonedAfter(good=8), val_set=_PoisonedAfter(good=10**9))
    checkpoint = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and all(v.isfinite().all() for v in checkpoint["model"].values())


def test_aux_heads_are_trained_with_their_loss(tmp_path, data):
    config = tiny(tmp_path, model="googlenet_cifar", aux_logits=True, epochs=1, img_size=8, recipe="googlenet")
    train(config)
    model = load_model(tmp_path / "run" / "model.safetensors")
    assert model.config["aux_logits"] is True and len(model.aux_heads) == 2
    checkpoint = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    state = checkpoint["optimizer"]["state"]
    # SGD keeps a momentum buffer for each parameter that had a gradient: the side heads' too.
    assert len(state) == len(list(model.parameters()))


def test_a_recipe_trains_with_its_papers_dropout(tmp_path, data):
    """Xception's paper trains with dropout 0.5 before the classifier; the network's default is the ports' 0."""
    assert RECIPES["xception"].drop_rate == 0.5 and RECIPES["default"].drop_rate is None
    train(tiny(tmp_path, model="xception_cifar", recipe="xception", epochs=1, img_size=8))
    model = load_model(tmp_path / "run" / "model.safetensors")
    assert model.config["drop_rate"] == 0.5 and model.head.drop.p == 0.5


def test_bad_options_are_refused_before_anything_is_written(tmp_path, data):
    with pytest.raises(ValueError, match="batch norm"):
        train(tiny(tmp_path, batch_size=1))
    with pytest.raises(ValueError, match="unknown recipe"):
        train(tiny(tmp_path, recipe="alexnet"))
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(tiny(tmp_path, batch_size=100))
    with pytest.raises(ValueError, match="has no train/ or val/ folder"):
        train(tiny(tmp_path, data=str(data / "train")))
    assert not (tmp_path / "run").exists()
    train(tiny(tmp_path, epochs=1))
    with pytest.raises(ValueError, match="already holds a run"):
        train(tiny(tmp_path, epochs=1))


def test_a_truncated_checkpoint_is_named_not_loaded(tmp_path, data):
    train(tiny(tmp_path, epochs=1))
    last = tmp_path / "run" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(ValueError, match="not a readable training checkpoint"):
        train(TrainConfig(resume=str(last), epochs=2))


def test_tf_rmsprop_matches_timm_rmsproptf():
    from timm.optim import RMSpropTF

    torch.manual_seed(0)
    ours_p = [torch.randn(5, 3, requires_grad=True), torch.randn(7, requires_grad=True)]
    theirs_p = [p.detach().clone().requires_grad_(True) for p in ours_p]
    initial = [p.detach().clone() for p in ours_p]
    ours = TFRMSprop([{"params": ours_p, "weight_decay": 4e-5}], lr=0.045, decay=0.9, momentum=0.9, eps=1.0)
    theirs = RMSpropTF(theirs_p, lr=0.045, alpha=0.9, momentum=0.9, eps=1.0, weight_decay=4e-5)
    for _ in range(5):
        grads = [torch.randn_like(p) for p in ours_p]
        for params, opt in ((ours_p, ours), (theirs_p, theirs)):
            for p, grad in zip(params, grads, strict=True):
                p.grad = grad.clone()
            opt.step()
    for a, b in zip(ours_p, theirs_p, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert all((a - start).abs().min() > 0 for a, start in zip(ours_p, initial, strict=True))  # every value moved


def test_schedules():
    v3 = RECIPES["inception_v3"]
    assert [lr_factor(v3, step, 10, 1000) for step in (0, 19, 20, 40)] == [1.0, 1.0, 0.94, 0.94**2]
    googlenet = RECIPES["googlenet"]
    assert lr_factor(googlenet, 8 * 10, 10, 1000) == pytest.approx(0.96)
    default = RECIPES["default"]  # 5% warmup from ~0, then cosine to 0
    assert lr_factor(default, 0, 10, 1000) < 0.03
    assert lr_factor(default, 50, 10, 1000) == pytest.approx(1.0)
    assert lr_factor(default, 999, 10, 1000) < 1e-4


def test_every_recipe_names_its_source():
    for recipe in RECIPES.values():
        assert recipe.source and recipe.notes, recipe.name


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun's gloo needs a POSIX host")
def test_two_process_ddp_under_torchrun(tmp_path, data):
    output = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "inception_zoo", "train", "--model", MODEL, "--data", str(data), "--output", str(output),
        "--epochs", "2", "--batch-size", "4", "--img-size", "16", "--augment", "cifar", "--lr", "3e-3",
    ]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_csv(output / "metrics.csv")
    assert len(rows) == 2  # written once, by rank 0
    # 24 training images over 2 processes x 4 per batch: 3 steps per epoch, on each process.
    assert int(rows[-1]["step"]) == 6
    # The validation shards were merged: 12 images, so accuracies are multiples of 100/12.
    assert (float(rows[-1]["val_top1"]) * 12 / 100) == pytest.approx(round(float(rows[-1]["val_top1"]) * 12 / 100))
    model = load_model(output / "model.safetensors")
    assert model.labels == ["blue", "green", "red"]


def test_the_train_command(tmp_path, data, capsys):
    from inception_zoo.cli import main

    assert main(["train"]) == 2
    assert "--model" in capsys.readouterr().err
    run = tmp_path / "run"
    common = ["--data", str(data), "--output", str(run), "--batch-size", "6", "--img-size", "16", "--lr", "3e-3"]
    assert main(["train", "--model", MODEL, "--epochs", "1", *common]) == 0
    assert "best val top-1" in capsys.readouterr().out
    assert main(["train", "--resume", str(run / "last.pt"), "--epochs", "2"]) == 0
    assert len(read_csv(run / "metrics.csv")) == 2


def test_bf16_and_contiguous_nchw_train(tmp_path, data):  # channels_last is the default, tested everywhere else
    result = train(tiny(tmp_path, epochs=1, amp="bf16", channels_last=False))
    assert result.metrics[0]["train_loss"] > 0 and (tmp_path / "run" / "model.safetensors").exists()
    with pytest.raises(ValueError, match="fp16 mixed precision needs a GPU"):
        train(tiny(tmp_path, output=str(tmp_path / "fp16"), amp="fp16", device="cpu"))


def test_cifar_offline_says_what_to_do(tmp_path, monkeypatch):
    from inception_zoo.data.datasets import load_datasets

    monkeypatch.setenv("INCEPTION_ZOO_DATA", str(tmp_path))
    with pytest.raises(OSError, match="cifar10 is not in .* and could not be downloaded"):
        load_datasets(dataset="cifar10", download=False)


def test_the_recipes_command(capsys):
    from inception_zoo.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "rmsprop_tf" in out and "x0.94 every 2 epochs" in out and "Rethinking" in out


def test_frozen_batch_norm_stays_put(tmp_path, data):
    from inception_zoo import create_model

    train(tiny(tmp_path, epochs=1, freeze_bn=True, model="googlenet_cifar", img_size=8))
    trained = weights_of(tmp_path / "run" / "model.safetensors")
    initial = create_model("googlenet_cifar", num_classes=3).state_dict()
    norms = [k for k in initial if ".bn." in k or k.endswith(("running_mean", "running_var"))]
    assert norms and all(torch.equal(trained[k], initial[k]) for k in norms)
    convs = [k for k in initial if k.endswith("conv.weight")]
    assert any(not torch.equal(trained[k], initial[k]) for k in convs)  # the rest did train


def test_fine_tuning_keeps_the_weights_preprocessing(tmp_path, data):
    import dataclasses

    from inception_zoo import create_model, save_weights

    start = create_model(MODEL)
    start.preprocessing = dataclasses.replace(start.preprocessing, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    weights = save_weights(start, tmp_path / "start.safetensors")
    with pytest.warns(UserWarning, match="new 3-class classifier"):
        train(tiny(tmp_path, epochs=1, weights=str(weights)))
    model = load_model(tmp_path / "run" / "model.safetensors")
    assert model.preprocessing.mean == (0.5, 0.5, 0.5) and model.preprocessing.input_size == (3, 16, 16)
    assert model.num_classes == 3
