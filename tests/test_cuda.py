"""The GPU paths: optimised and compiled (CUDA graphs) inference, bf16, fp16 training with its
gradient scaler. Skipped where there is no GPU; run them on one with ``pytest tests/test_cuda.py``."""

from __future__ import annotations

import pytest
import torch

from conftest import max_relative_error, randomize_batchnorm
from inception_zoo import create_model, list_models, model_info, optimize_for_inference
from inception_zoo.train import TrainConfig, train
from test_train import make_folder, tiny

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def _exact_fp32():
    """cuDNN and cuBLAS round fp32 to TF32 by default (10 significant bits): off, so fp32 means fp32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _model_and_input(name: str, batch_size: int = 4):
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model(name)).cuda()
    size = model_info(name).input_size[-1]
    return model, torch.randn(batch_size, 3, size, size, device="cuda")


@pytest.mark.parametrize("name", list_models())
def test_optimized_model_on_the_gpu_gives_the_same_outputs(name):
    model, x = _model_and_input(name)
    fast = optimize_for_inference(model)
    assert all(p.is_cuda for p in fast.parameters())
    with torch.inference_mode():
        assert max_relative_error(fast(x), model(x)) <= 1e-4


def test_compiled_with_cuda_graphs_keeps_every_calls_logits():
    model, x = _model_and_input("inception_v3")
    fast = optimize_for_inference(model, compile=True)
    batches = [x, torch.randn_like(x), torch.randn_like(x)]
    with torch.inference_mode():
        kept = [fast(b) for b in batches]  # the graph is recorded, then replayed
        for b, logits in zip(batches, kept, strict=True):
            assert max_relative_error(logits, model(b)) <= 1e-4
    assert fast.name == "inception_v3"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_on_the_gpu(dtype):
    model, x = _model_and_input("inception_next_tiny", batch_size=8)
    fast = optimize_for_inference(model, dtype=dtype)
    with torch.inference_mode():
        got, expected = fast(x), model(x)
    assert got.dtype == torch.float32
    assert max_relative_error(got, expected) < 0.1
    assert (got.argmax(1) == expected.argmax(1)).float().mean() >= 0.75


def test_fp16_training_saves_and_resumes_its_gradient_scaler(tmp_path):
    make_folder(tmp_path / "data")
    train(tiny(tmp_path, epochs=2, amp="fp16", device="cuda"))
    run = tmp_path / "run"
    last = (run / "metrics.csv").read_text().splitlines()[-1]
    assert "nan" not in last.lower() and "inf" not in last.lower()
    checkpoint = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert checkpoint["scaler"]["scale"] > 0  # the scaler was on, and its state is saved
    # A scale no fresh scaler would reach in one epoch (it starts at 65536 and at most halves per
    # step) shows that resuming takes the saved state up.
    checkpoint["scaler"]["scale"] = 64.0
    torch.save(checkpoint, run / "last.pt")
    train(TrainConfig(resume=str(run / "last.pt"), epochs=3))
    resumed = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert resumed["scaler"]["scale"] <= 64.0


@pytest.mark.parametrize("options", [{}, {"compute_dtype": "bfloat16"}, {"compile": True}])
def test_batch_predict_and_embed_on_the_gpu_agree_with_the_cpu(tmp_path, options):
    import numpy as np
    from PIL import Image

    from inception_zoo import embed, predict, predict_to_file

    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model("googlenet"))
    cpu = list(predict(model, tmp_path, device="cpu", workers=0))
    gpu = list(predict(model, tmp_path, device="cuda", workers=2, batch_size=4, **options))
    tolerance = 2e-2 if options.get("compute_dtype") else 1e-4
    for a, b in zip(cpu, gpu, strict=True):
        assert a.path == b.path and a.top[0]["score"] == pytest.approx(b.top[0]["score"], rel=tolerance)
    vectors = [e.vector for e in embed(model, tmp_path, device="cuda", **options)]
    assert len(vectors) == 10 and all(np.isfinite(v).all() for v in vectors)
    summary = predict_to_file(model, tmp_path, tmp_path / "p.parquet", device="cuda", progress=False, **options)
    assert (summary.images, summary.errors) == (10, 0)


def test_fid_on_the_gpu_equals_the_cpu_with_tf32_left_as_the_caller_had_it(tmp_path):
    """FID's features on a GPU in exact fp32 (TF32 off inside the computation only): the CPU's statistics."""
    import numpy as np
    from PIL import Image

    from conftest import fid_reference_weights
    from inception_zoo.fid import fid_model, fid_statistics

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    model = fid_model(fid_reference_weights(tmp_path / "weights.pth"))
    cpu = fid_statistics(folder, model=model, workers=0, device="cpu")
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True  # the caller's setting
    gpu = fid_statistics(folder, model=model, workers=0, device="cuda")
    assert torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32  # restored
    np.testing.assert_allclose(gpu.mu, cpu.mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gpu.sigma, cpu.sigma, rtol=1e-4, atol=1e-6)
