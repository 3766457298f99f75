"""FID, KID and IS: the FID network's features, and the scores, equal to the installed pytorch-fid's
and torch-fidelity's on the same images with the same (random) weights in their own file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import fid_reference_weights
from inception_zoo.cli import main
from inception_zoo.fid import fid, fid_model, fid_statistics, inception_score_of, kid, load_statistics
from inception_zoo.fid.api import features_of
from inception_zoo.fid.statistics import FeatureStatistics, frechet_distance, trace_sqrt_product

pytorch_fid = pytest.importorskip("pytorch_fid")
torch_fidelity = pytest.importorskip("torch_fidelity")

COUNT = 24  # images per set: quick, and enough for subsets and splits


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return fid_reference_weights(tmp_path_factory.mktemp("fid") / "pt_inception-random.pth")


@pytest.fixture(scope="module")
def model(weights):
    return fid_model(weights)


def _images(folder, seed: int, sizes=((60, 80),)):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(COUNT):
        h, w = sizes[i % len(sizes)]
        base = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(base).resize((w, h), Image.BICUBIC).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    return _images(root / "a", 1), _images(root / "b", 2)


@pytest.fixture
def pytorch_fid_model(weights, monkeypatch):
    from pytorch_fid import inception

    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: torch.load(weights))
    return inception.InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True).eval()


def _pixels(folder):
    return [np.array(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir())]


def _relative(ours, theirs) -> float:
    return float(np.abs(np.asarray(ours) - np.asarray(theirs)).max() / np.abs(np.asarray(theirs)).max())


def test_pool3_features_equal_pytorch_fids_and_torch_fidelitys(model, sets, weights, pytorch_fid_model):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    pixels = _pixels(sets[0])
    with torch.no_grad():
        theirs = pytorch_fid_model(torch.stack([torch.from_numpy(p).permute(2, 0, 1) / 255 for p in pixels]))[0]
    ours = features_of(sets[0], model=model, protocol="pytorch-fid", keep=True, workers=0).features
    assert _relative(ours, theirs.flatten(1).numpy()) < 1e-5
    extractor = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                            feature_extractor_weights_path=str(weights))  # fmt: skip
    with torch.no_grad():
        pool3, logits = extractor(torch.stack([torch.from_numpy(p).permute(2, 0, 1) for p in pixels]))
    read = features_of(sets[0], model=model, protocol="torch-fidelity", keep=True, logits=True, workers=2)
    assert _relative(read.features, pool3.numpy()) < 1e-5
    assert _relative(read.logits, logits.numpy()) < 1e-5


def test_features_and_fid_equal_clean_fids(model, sets, weights, monkeypatch):
    """clean-fid's own pipeline (its file list, PIL float resize, loader and statistics) in its default
    "clean" mode; its network (a TorchScript download) is replaced by pytorch-fid's module with the same
    random weights, fed as clean-fid feeds its own: [0, 255] at 299x299, normalised inside."""
    from cleanfid import fid as clean_fid
    from pytorch_fid import inception

    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: torch.load(weights))
    network = inception.InceptionV3([3], resize_input=False, normalize_input=False, use_fid_inception=True).eval()

    def extractor(x: torch.Tensor) -> torch.Tensor:
        return network((x - 128) / 128)[0].flatten(1)

    common = dict(model=extractor, num_workers=0, batch_size=8, device=torch.device("cpu"), mode="clean")
    with torch.no_grad():
        theirs = [clean_fid.get_folder_features(str(s), verbose=False, **common) for s in sets]
    ours = features_of(sets[0], model=model, protocol="clean-fid", keep=True, workers=0).features
    assert _relative(ours, theirs[0]) < 1e-5
    statistics = [fid_statistics(s, model=model, protocol="clean-fid", workers=0) for s in sets]
    regular = [FeatureStatistics(s.mu, s.sigma + 0.1 * np.trace(s.sigma) / 2048 * np.eye(2048)) for s in statistics]
    their_mu = [np.mean(f, axis=0) for f in theirs]
    their_sigma = [np.cov(f, rowvar=False) + 0.1 * np.trace(np.cov(f, rowvar=False)) / 2048 * np.eye(2048)
                   for f in theirs]  # fmt: skip
    expected = clean_fid.frechet_distance(their_mu[0], their_sigma[0], their_mu[1], their_sigma[1])
    assert frechet_distance(*regular) == pytest.approx(expected, rel=1e-4)


def test_statistics_and_fid_equal_pytorch_fids(model, sets, pytorch_fid_model, tmp_path):
    from pytorch_fid.fid_score import (
        calculate_activation_statistics,
        calculate_frechet_distance,
        compute_statistics_of_path,
        save_fid_stats,
    )

    files = [sorted(map(str, s.iterdir())) for s in sets]
    theirs = [calculate_activation_statistics(f, pytorch_fid_model, 8, 2048, "cpu", 0) for f in files]
    ours = [fid_statistics(s, model=model, protocol="pytorch-fid", workers=0) for s in sets]
    for (mu, sigma), stats in zip(theirs, ours, strict=True):
        assert _relative(stats.mu, mu) < 1e-5 and _relative(stats.sigma, sigma) < 1e-5
    # With fewer images than features the covariances are singular, and pytorch-fid's sqrtm fails on
    # them ("Imaginary component"); ours does not. On the same statistics made full-rank, the same FID:
    regular = [FeatureStatistics(s.mu, s.sigma + 0.1 * np.trace(s.sigma) / 2048 * np.eye(2048)) for s in ours]
    expected = calculate_frechet_distance(regular[0].mu, regular[0].sigma, regular[1].mu, regular[1].sigma)
    assert frechet_distance(*regular) == pytest.approx(expected, rel=1e-4)
    # Our .npz is pytorch-fid's: it reads ours, and we read its.
    ours[0].save(tmp_path / "a.npz")
    mu, sigma = compute_statistics_of_path(str(tmp_path / "a.npz"), pytorch_fid_model, 8, 2048, "cpu")
    np.testing.assert_array_equal(mu, ours[0].mu)
    np.testing.assert_array_equal(sigma, ours[0].sigma)
    save_fid_stats([str(sets[1]), str(tmp_path / "b.npz")], 8, "cpu", 2048, num_workers=0)
    np.testing.assert_allclose(load_statistics(tmp_path / "b.npz").mu, theirs[1][0], rtol=1e-6)


def test_fid_kid_and_is_equal_torch_fidelitys(model, sets, weights):
    theirs = torch_fidelity.calculate_metrics(
        input1=str(sets[0]), input2=str(sets[1]), fid=True, kid=True, isc=True, kid_subsets=10, kid_subset_size=16,
        isc_splits=4, feature_extractor_weights_path=str(weights), cuda=False, verbose=False, batch_size=8,
        save_cpu_ram=True, cache=False,
    )  # fmt: skip
    assert fid(*sets, model=model, workers=0) == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    mean, std = kid(*sets, model=model, subsets=10, subset_size=16, workers=0)
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3)
    mean, std = inception_score_of(sets[0], model=model, splits=4, workers=0)
    assert mean == pytest.approx(theirs["inception_score_mean"], rel=1e-4)
    assert std == pytest.approx(theirs["inception_score_std"], rel=1e-3)


def test_the_value_does_not_depend_on_the_batch_size(model, sets):
    one = fid(*sets, model=model, batch_size=1, workers=0)
    whole = fid(*sets, model=model, batch_size=500, workers=0)
    assert one == pytest.approx(whole, rel=1e-6)


def test_in_memory_images_equal_their_files(model, sets):
    pixels = _pixels(sets[0])
    from_files = fid_statistics(sets[0], model=model, workers=0)
    tensors = torch.stack([torch.from_numpy(p).permute(2, 0, 1) for p in pixels])  # a generator's uint8 batch
    for given in (iter(tensors), tensors, (tensors[i : i + 5].float() / 255 for i in range(0, COUNT, 5))):
        in_memory = fid_statistics(given, model=model)  # images, a batch, a generator's [0, 1] float batches
        assert in_memory.count == COUNT
        np.testing.assert_allclose(in_memory.mu, from_files.mu, rtol=1e-5, atol=1e-6)


def test_the_matrix_square_root_matches_scipys_on_ill_conditioned_covariances():
    from scipy import linalg

    rng = np.random.default_rng(0)
    for rank, scale in ((64, 1.0), (20, 1e3), (64, 1e-4)):
        a, b = rng.normal(size=(rank, 64)) * scale, rng.normal(size=(rank, 64))
        sigma1 = np.cov(a, rowvar=False) + np.diag(np.logspace(-12, 0, 64))  # condition number about 1e12
        sigma2 = np.cov(b, rowvar=False)
        expected = np.trace(linalg.sqrtm(sigma1 @ sigma2)).real
        assert trace_sqrt_product(sigma1, sigma2) == pytest.approx(expected, rel=1e-6)
    # A singular covariance (fewer samples than features) has no Cholesky factor; the eigendecomposition's
    # route gives the limit of the positive definite ones.
    singular = np.cov(rng.normal(size=(20, 64)), rowvar=False)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(singular)
    nearly = trace_sqrt_product(singular + 1e-10 * np.eye(64), sigma2)
    assert trace_sqrt_product(singular, sigma2) == pytest.approx(nearly, rel=1e-5)


def test_the_command_line_and_its_errors(model, sets, weights, tmp_path, capsys):
    assert main(["fid", *map(str, sets), "--weights", str(weights), "--workers", "0"]) == 0
    value = float(capsys.readouterr().out.splitlines()[-1])
    assert value == pytest.approx(fid(*sets, model=model, workers=0), rel=1e-6)
    stats = tmp_path / "a.npz"
    assert main(["fid-stats", str(sets[0]), "-o", str(stats), "--weights", str(weights), "--workers", "0"]) == 0
    assert load_statistics(stats).count == COUNT
    assert main(["fid", str(stats), str(sets[1]), "--weights", str(weights), "--json", "--workers", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["fid"] == pytest.approx(value, rel=1e-6)
    assert main(["kid", *map(str, sets), "--weights", str(weights), "--subset-size", "16", "--subsets", "3"]) == 0
    assert main(["inception-score", str(sets[0]), "--weights", str(weights), "--splits", "2"]) == 0
    capsys.readouterr()
    # A stats file of the wrong shape; too few images; a subset larger than a set; unreadable images.
    np.savez(tmp_path / "wrong.npz", mu=np.zeros(64), sigma=np.eye(64))
    assert main(["fid", str(tmp_path / "wrong.npz"), str(stats)]) == 2
    assert "mu (2048,), sigma (2048, 2048)" in capsys.readouterr().err
    lonely = tmp_path / "one"
    lonely.mkdir()
    Image.open(next(sets[0].iterdir())).save(lonely / "only.png")
    (lonely / "broken.png").write_bytes(b"not a png")
    assert main(["fid", str(lonely), str(stats), "--weights", str(weights), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "skipped" in err and "broken.png" in err and "at least 2 readable images, got 1" in err
    assert main(["kid", *map(str, sets), "--weights", str(weights), "--subset-size", "100"]) == 2
    assert "--subset-size 100 is more than the images of a set (24 and 24): at most 24" in capsys.readouterr().err


def test_mixed_sizes_are_read(model, tmp_path):
    mixed = _images(tmp_path / "mixed", 3, sizes=((40, 50), (299, 299), (500, 375)))
    assert fid_statistics(mixed, model=model, workers=0).count == COUNT


def test_the_network_counts_as_pytorch_fids(model, pytorch_fid_model):
    theirs = sum(p.numel() for p in pytorch_fid_model.parameters()) + 2048 * 1008 + 1008  # its blocks, and fc
    assert sum(p.numel() for p in model.parameters()) == theirs == 23_850_960
    assert model.num_classes == 1008 and model.labels is None
