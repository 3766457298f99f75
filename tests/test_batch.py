"""predict and embed over many images: inputs, order, equality with a manual forward, every output
format read back, odd images as error rows, resume after SIGKILL, torchrun, Ray Data."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import bomb_png
from inception_zoo import create_model, embed, embed_to_file, predict, predict_to_file, save_weights, transforms_for
from inception_zoo.batch.inputs import check_inputs, walk_items
from inception_zoo.cli import main
from inception_zoo.data.images import read_rgb

RNG = np.random.default_rng(0)


def _jpeg(path: Path, w: int = 80, h: int = 60) -> Path:
    Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _encoded(w: int = 50, h: int = 40, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def _shard(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A folder (with a subfolder and a shard inside), odd images among the ordinary ones, a list, a shard."""
    root = tmp_path_factory.mktemp("batch")
    images = root / "images"
    (images / "sub").mkdir(parents=True)
    for i in range(5):
        _jpeg(images / f"{i}.jpg", 70 + 10 * i, 60)
    _jpeg(images / "sub" / "a.jpeg")
    (images / "notes.txt").write_text("not an image, not picked up from a folder")
    _shard(images / "sub" / "inner.tar", {"x.png": _encoded(), "skip.json": b"{}"})
    odd = root / "odd"
    odd.mkdir()
    good = _encoded(64, 48, "JPEG")
    (odd / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (odd / "zero.png").write_bytes(b"")
    (odd / "bomb.png").write_bytes(bomb_png(30000, 30000))
    Image.fromarray(RNG.integers(0, 256, (40, 50, 4), dtype=np.uint8), "CMYK").save(odd / "cmyk.jpg")
    Image.fromarray(RNG.integers(0, 65536, (40, 50), dtype=np.uint16)).save(odd / "grey16.png")
    Image.fromarray(RNG.integers(0, 256, (1, 1, 3), dtype=np.uint8)).save(odd / "one.png")
    (root / "list.txt").write_text("images/0.jpg\n\nimages/sub/a.jpeg\nmissing.jpg\n")
    _shard(root / "shard.tar", {f"{k:03d}.jpg": _encoded(60, 50, "JPEG") for k in range(3)})
    return root


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("googlenet").eval()


@pytest.fixture(scope="module")
def weights(model, tmp_path_factory) -> Path:
    return save_weights(model, tmp_path_factory.mktemp("weights") / "googlenet.safetensors")


def _names(paths) -> list[str]:
    return [str(Path(p)) for p in paths]


def test_inputs_are_numbered_in_a_fixed_order(data):
    found = [
        item.path for item, _ in walk_items(check_inputs([data / "images", data / "list.txt", data / "shard.tar"]))
    ]
    images, shard = data / "images", data / "shard.tar"
    assert found == _names(
        [*(images / f"{i}.jpg" for i in range(5)), images / "sub" / "a.jpeg", f"{images}/sub/inner.tar/x.png"]
        + [data / "images/0.jpg", data / "images/sub/a.jpeg", data / "missing.jpg"]
        + [f"{shard}/{k:03d}.jpg" for k in range(3)]
    )
    with pytest.raises(ValueError, match="no such file or folder: .*nowhere"):
        check_inputs([data / "nowhere"])


def _expected(model, source) -> torch.Tensor:
    with torch.no_grad():
        return model(transforms_for(model)(read_rgb(source)).unsqueeze(0)).softmax(1)[0]


@pytest.mark.parametrize("workers", [0, 2])
def test_predictions_equal_a_manual_forward_in_input_order(data, model, workers):
    inputs = [data / "images", data / "odd", data / "shard.tar"]
    results = list(predict(model, inputs, topk=3, batch_size=4, workers=workers))
    assert [r.path for r in results] == [item.path for item, _ in walk_items(check_inputs(inputs))]
    by_name = {Path(r.path).name: r for r in results}
    for name in ("truncated.jpg", "zero.png", "bomb.png"):  # the odd files that are not images: error rows
        assert by_name[name].error.startswith("cannot read this image") and by_name[name].top == []
    assert "pixels" in by_name["bomb.png"].error and "corrupt or truncated" in by_name["truncated.jpg"].error
    readable = [r for r in results if r.error is None]
    assert len(readable) == len(results) - 3
    for result in readable:  # CMYK, 16-bit grey, 1x1 included; shard members from their bytes
        source = result.path
        if ".tar/" in source:
            shard, member = source.split(".tar/")
            with tarfile.open(shard + ".tar") as archive:
                source = archive.extractfile(member).read()
        expected = _expected(model, source)
        assert [t["index"] for t in result.top] == expected.topk(3).indices.tolist()
        # Through optimize_for_inference: equal to the plain model's to float rounding.
        assert [t["score"] for t in result.top] == pytest.approx(expected.topk(3).values.tolist(), rel=1e-4)
        assert result.top[0]["label"] == model.labels[result.top[0]["index"]]


def test_in_memory_images_and_the_plain_model(data, model):
    images = [Image.open(data / "images" / f"{i}.jpg") for i in range(3)]
    arrays = [np.asarray(image.convert("RGB")) for image in images]
    from_paths = list(predict(model, [data / "images" / f"{i}.jpg" for i in range(3)], optimize=False, workers=0))
    for given in (images, arrays, iter(arrays)):
        results = list(predict(model, given, optimize=False, batch_size=2))
        assert [r.path for r in results] == [None] * 3
        for result, want in zip(results, from_paths, strict=True):  # another batch size: float rounding apart
            assert [t["index"] for t in result.top] == [t["index"] for t in want.top]
            assert [t["score"] for t in result.top] == pytest.approx([t["score"] for t in want.top], rel=1e-5)


def test_embeddings_are_the_pre_logits_or_a_pooled_feature_map(data, model):
    files = [data / "images" / f"{i}.jpg" for i in range(3)]
    batch = torch.stack([transforms_for(model)(read_rgb(f)) for f in files])
    with torch.no_grad():
        pre_logits = model.forward_head(model.forward_features(batch), pre_logits=True)
        _, maps = model.forward_intermediates(batch, indices=[2])
    vectors = np.stack([e.vector for e in embed(model, files, workers=0)])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 1024)
    np.testing.assert_allclose(vectors, pre_logits.numpy(), rtol=1e-4, atol=1e-4 * pre_logits.abs().max().item())
    layer = model.feature_info[2]["module"]
    pooled = np.stack([e.vector for e in embed(model, files, layer=layer, dtype="float16", workers=0)])
    assert pooled.dtype == np.float16
    np.testing.assert_allclose(pooled, maps[0].mean((2, 3)).numpy(), rtol=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match="no feature map 'nope'; it has: features"):
        next(embed(model, files, layer="nope"))


def test_an_mlp_head_gives_its_hidden_features(data):
    torch.manual_seed(0)
    net = create_model("inception_next_atto").eval()
    image = data / "images" / "0.jpg"
    with torch.no_grad():
        x = transforms_for(net)(read_rgb(image)).unsqueeze(0)
        expected = net.forward_head(net.forward_features(x), pre_logits=True)[0]
    (got,) = embed(net, [image], workers=0)
    assert got.vector.shape == (net.head_hidden_size,)
    np.testing.assert_allclose(got.vector, expected.numpy(), rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def _read(path: Path) -> list[dict]:
    """An output file as rows of {path, error, top | embedding}."""
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        k = sum(name.startswith("label_") for name in rows[0])
        return [
            {
                "path": r["path"], "error": r["error"] or None,
                "top": [] if r["error"] else [
                    {"index": int(r[f"index_{i}"]), "label": r[f"label_{i}"], "score": float(r[f"score_{i}"])}
                    for i in range(1, k + 1)
                ],
            }
            for r in rows
        ]  # fmt: skip
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if path.suffix == ".npy":
        described = [json.loads(line) for line in path.with_suffix(".rows.jsonl").read_text().splitlines()]
        return [d | {"embedding": v} for d, v in zip(described, np.load(path), strict=True)]
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pylist()
    if "embedding" in table[0]:
        return table
    k = sum(name.startswith("label_") for name in table[0])
    return [
        {"path": r["path"], "error": r["error"], "top": [] if r["error"] else [
            {"index": r[f"index_{i}"], "label": r[f"label_{i}"], "score": r[f"score_{i}"]} for i in range(1, k + 1)]}
        for r in table
    ]  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_each_predictions_format_reads_back_as_the_rows(data, model, tmp_path, suffix):
    inputs = [data / "odd", data / "shard.tar"]
    expected = list(predict(model, inputs, topk=2, workers=0))
    summary = predict_to_file(model, inputs, tmp_path / f"p{suffix}", topk=2, part_size=4, workers=1, progress=False)
    assert (summary.images, summary.errors, summary.resumed) == (len(expected), 3, 0)
    rows = _read(tmp_path / f"p{suffix}")
    assert [(r["path"], r["error"]) for r in rows] == [(e.path, e.error) for e in expected]
    for row, want in zip(rows, expected, strict=True):
        assert [t["index"] for t in row["top"]] == [t["index"] for t in want.top]
        assert [t["label"] for t in row["top"]] == [t["label"] for t in want.top]
        assert [t["score"] for t in row["top"]] == pytest.approx([t["score"] for t in want.top], rel=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"p{suffix}"]  # the parts are gone


@pytest.mark.parametrize("suffix, dtype", [(".parquet", "float32"), (".npy", "float16")])
def test_each_embeddings_format_reads_back_as_the_rows(data, model, tmp_path, suffix, dtype):
    inputs = [data / "odd"]
    expected = list(embed(model, inputs, dtype=dtype, workers=0))
    summary = embed_to_file(model, inputs, tmp_path / f"e{suffix}", dtype=dtype, part_size=2, progress=False)
    assert (summary.images, summary.errors) == (6, 3)
    rows = _read(tmp_path / f"e{suffix}")
    assert [(r["path"], r["error"]) for r in rows] == [(e.path, e.error) for e in expected]
    for row, want in zip(rows, expected, strict=True):
        if want.error:
            assert row["embedding"] is None if suffix == ".parquet" else np.isnan(row["embedding"]).all()
        else:
            np.testing.assert_allclose(np.asarray(row["embedding"], np.float32), want.vector.astype(np.float32))
    if suffix == ".npy":
        assert np.load(tmp_path / "e.npy").dtype == np.float16


def test_a_finished_output_is_kept_and_another_jobs_parts_are_refused(data, model, tmp_path):
    out = tmp_path / "p.jsonl"
    predict_to_file(model, [data / "odd"], out, progress=False, workers=0)
    first = out.read_text()
    with pytest.raises(ValueError, match="already written: pass overwrite=True"):
        predict_to_file(model, [data / "odd"], out, progress=False)
    predict_to_file(model, [data / "odd"], out, overwrite=True, topk=1, progress=False, workers=0)
    assert out.read_text() != first and len(out.read_text().splitlines()) == 6
    parts = tmp_path / "q.jsonl.parts"
    parts.mkdir()
    (parts / "job.json").write_text(json.dumps({"task": "predict", "topk": 3}))
    with pytest.raises(ValueError, match="holds the parts of another job .*topk"):
        predict_to_file(model, [data / "odd"], tmp_path / "q.jsonl", progress=False)
    with pytest.raises(ValueError, match="predict writes .csv, .jsonl, .parquet files, not 'p.npy'"):
        predict_to_file(model, [data / "odd"], tmp_path / "p.npy")


def _cli(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "inception_zoo", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )  # fmt: skip


def test_sigkill_then_the_same_command_writes_every_image_exactly_once(data, weights, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(48):
        _jpeg(folder / f"{i:03d}.jpg")
    out = tmp_path / "p.csv"
    command = ["predict", folder, "--weights", weights, "--output", out, "--part-size", 4, "--batch-size", 2,
               "--workers", 1]  # fmt: skip
    job = _cli(*command)
    parts = tmp_path / "p.csv.parts"
    deadline = time.monotonic() + 120
    while len(list(parts.glob("part-*"))) < 2 and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert not out.exists() and 2 <= len(list(parts.glob("part-*"))) < 12, "the job was not killed mid-way"
    resumed = _cli(*command)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr[-2000:]
    assert "48 images written" in stderr and "of them by an earlier run" in stderr
    rows = _read(out)
    assert [r["path"] for r in rows] == [str(folder / f"{i:03d}.jpg") for i in range(48)]  # each once, in order
    fresh = tmp_path / "fresh.csv"
    assert main([str(fresh if a == out else a) for a in command]) == 0  # uninterrupted, the same batches
    assert out.read_text() == fresh.read_text()


def test_two_torchrun_processes_write_what_one_writes(data, weights, tmp_path):
    inputs = [data / "images", data / "odd", data / "shard.tar"]
    single = tmp_path / "one.parquet"
    assert main(["predict", *map(str, inputs), "--weights", str(weights), "--output", str(single),
                 "--part-size", "3", "--workers", "0"]) == 1  # fmt: skip
    shared = tmp_path / "two.parquet"
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m",
         "inception_zoo", "predict", *map(str, inputs), "--weights", str(weights), "--output", str(shared),
         "--part-size", "3", "--workers", "1"],
        capture_output=True, text=True, timeout=300, env=os.environ | {"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert run.returncode == 1, run.stderr[-3000:]  # 1: unreadable images, reported once
    assert run.stderr.count("images written") == 1
    assert _read(shared) == _read(single)


def test_the_command_line(data, weights, tmp_path, capsys):
    assert main(["predict", str(data / "odd"), "--weights", str(weights), "--json", "--topk", "2"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["model"] == "googlenet" and len(answer["predictions"]) == 6
    assert main(["predict", str(data / "images" / "0.jpg"), "--weights", str(weights)]) == 0
    assert capsys.readouterr().out.startswith(f"{data / 'images' / '0.jpg'}: ")
    out = tmp_path / "e.parquet"
    assert main(["embed", str(data / "images"), "--weights", str(weights), "--output", str(out), "--workers", "0"]) == 0
    assert "7 images written" in capsys.readouterr().err
    assert main(["embed", str(data / "images"), "--weights", str(weights), "--output", str(out)]) == 2
    assert "already written: give --overwrite" in capsys.readouterr().err
    assert main(["embed", str(data / "images"), "--weights", str(weights), "--output", str(tmp_path / "e.csv")]) == 2
    assert "embed writes .parquet, .npy files, not 'e.csv'" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "none"), "--weights", str(weights)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", str(empty), "--weights", str(weights), "--output", str(tmp_path / "x.csv")]) == 2
    assert "no images found" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):  # argparse's own usage error
        main(["predict", str(empty), "--weights", str(weights), "--batch-size", "0"])


def test_ray_data_map_batches_takes_the_classes_as_they_are(data, model, weights):
    ray = pytest.importorskip("ray")
    from inception_zoo.batch import Embedder, Predictor

    files = [data / "images" / f"{i}.jpg" for i in range(4)] + [data / "odd" / "zero.png"]
    expected = list(predict(model, files, topk=3, workers=0))
    vectors = [e.vector for e in embed(model, files, workers=0)]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # rows compared in order
    try:
        encoded = ray.data.from_items([{"bytes": f.read_bytes(), "path": str(f)} for f in files])
        top = encoded.map_batches(
            Predictor, fn_constructor_kwargs={"weights": str(weights), "topk": 3}, concurrency=1, batch_size=2
        ).take_all()
        assert [r["path"] for r in top] == [str(f) for f in files] and "bytes" not in top[0]
        for row, want in zip(top, expected, strict=True):
            assert row["error"] == want.error
            if want.error is None:
                assert list(row["index"]) == [t["index"] for t in want.top]
                assert list(row["label"]) == [t["label"] for t in want.top]
                np.testing.assert_allclose(row["score"], [t["score"] for t in want.top], rtol=1e-5)
            else:
                assert list(row["index"]) == [-1] * 3
        arrays = ray.data.from_items([{"image": np.asarray(Image.open(f).convert("RGB"))} for f in files[:4]])
        embedded = arrays.map_batches(
            Embedder, fn_constructor_kwargs={"weights": str(weights)}, concurrency=1, batch_size=3
        ).take_all()
        np.testing.assert_allclose(np.stack([r["embedding"] for r in embedded]), np.stack(vectors[:4]), rtol=1e-5)
    finally:
        ray.shutdown()


def test_the_callers_code_between_rows_is_not_in_inference_mode(data, model):
    rows = predict(model, [data / "images"], batch_size=2, workers=0)
    next(rows)
    assert not torch.is_inference_mode_enabled()
    rows.close()
