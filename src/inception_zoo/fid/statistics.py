"""FID, KID and the Inception Score from features: float64 throughout, the references' estimators.

Feature statistics are accumulated batch by batch in float64 with Chan et al.'s pairwise update of
the mean and the centred scatter matrix, so memory does not grow with the number of images and the
result does not depend on how the images were batched (beyond the network's own rounding).

The matrix square root: FID needs only ``tr sqrt(S1 S2)``. With ``S1 = L L^T`` (Cholesky, when S1
is positive definite: more images than features) or ``S1 = R R`` (``R = S1^(1/2)`` from a symmetric
eigendecomposition, when it is singular), ``S1 S2`` is similar to ``L^T S2 L`` (or ``R S2 R``),
which is symmetric positive semi-definite, so the trace is the sum of the square roots of its
eigenvalues (negative rounding noise clipped to 0). Float64, no complex arithmetic and no
iteration that may fail to converge on singular covariances, where ``scipy.linalg.sqrtm``'s Schur
method (pytorch-fid's) gives a complex result and fails; equal to it where it works (tested,
ill-conditioned covariances included). The Cholesky route costs one factorisation, two products and
one eigenvalue-only ``eigh``: a few times less than an eigendecomposition with vectors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import atomic_output
from ..errors import ArgumentError

__all__ = [
    "FeatureStatistics",
    "RunningStatistics",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "load_statistics",
    "trace_sqrt_product",
]

MIN_IMAGES = 2  # for a covariance at all; a full-rank one needs more images than features (2,048)


@dataclass(frozen=True)
class FeatureStatistics:
    """The mean and covariance of a set's features (pytorch-fid's ``.npz``: ``mu``, ``sigma``)."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int | None = None  # images behind them, when known

    def save(self, path: str | os.PathLike) -> Path:
        """pytorch-fid's layout: ``np.load(path)["mu"]``, ``["sigma"]`` (and our ``count``)."""
        with atomic_output(path) as tmp, open(tmp, "wb") as out:
            extra = {} if self.count is None else {"count": np.array(self.count)}
            np.savez(out, mu=self.mu, sigma=self.sigma, **extra)
        return Path(path)


def load_statistics(path: str | os.PathLike, dim: int = 2048) -> FeatureStatistics:
    """A ``.npz`` of ``mu`` (dim) and ``sigma`` (dim x dim), ours or pytorch-fid's."""
    try:
        with np.load(path) as stored:
            mu, sigma = stored["mu"], stored["sigma"]
            count = int(stored["count"]) if "count" in stored else None
    except (OSError, ValueError, KeyError) as e:
        raise ArgumentError(f"{path} is not a statistics file (an .npz with 'mu' and 'sigma'): {e}") from None
    if mu.shape != (dim,) or sigma.shape != (dim, dim):
        raise ArgumentError(
            f"{path} holds statistics of shape mu {mu.shape}, sigma {sigma.shape}; the FID network's are "
            f"mu ({dim},), sigma ({dim}, {dim})"
        )
    return FeatureStatistics(mu.astype(np.float64), sigma.astype(np.float64), count)


class RunningStatistics:
    """Mean and covariance of features seen batch by batch, in float64."""

    def __init__(self, dim: int):
        self.count, self.mean, self.scatter = 0, np.zeros(dim), np.zeros((dim, dim))

    def add(self, features: np.ndarray) -> None:
        batch = np.asarray(features, dtype=np.float64)
        n = len(batch)
        if n == 0:
            return
        mean = batch.mean(axis=0)
        centred = batch - mean
        delta = mean - self.mean
        total = self.count + n
        self.scatter += centred.T @ centred + np.outer(delta, delta) * (self.count * n / total)
        self.mean += delta * (n / total)
        self.count = total

    def result(self) -> FeatureStatistics:
        if self.count < MIN_IMAGES:
            raise ArgumentError(
                f"a covariance needs at least {MIN_IMAGES} readable images, got {self.count} (FID is usually "
                f"computed on 10,000 or more; below {len(self.mean):,}, the feature width, the covariance is singular)"
            )
        return FeatureStatistics(self.mean.copy(), self.scatter / (self.count - 1), self.count)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr sqrt(sigma1 @ sigma2)`` for covariance matrices (see the module's docstring)."""
    try:
        lower = np.linalg.cholesky(sigma1)
        inner = lower.T @ sigma2 @ lower
    except np.linalg.LinAlgError:  # singular: fewer images than features
        root = _psd_sqrt(sigma1)
        inner = root @ sigma2 @ root
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum())


def frechet_distance(a: FeatureStatistics, b: FeatureStatistics) -> float:
    """``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)``."""
    if a.mu.shape != b.mu.shape:
        raise ArgumentError(f"statistics of different widths: {a.mu.shape[0]} and {b.mu.shape[0]} features")
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * trace_sqrt_product(a.sigma, b.sigma))


def kernel_inception_distance(
    features1: np.ndarray, features2: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 2020
) -> tuple[float, float]:
    """KID as torch-fidelity computes it: the unbiased MMD^2 with the cubic polynomial kernel
    ``(x.y / dim + 1)^3`` over ``subsets`` random subsets of ``subset_size`` from each set (numpy's
    ``RandomState(seed)``, drawn in its order); (mean, standard deviation) over the subsets."""
    n1, n2 = len(features1), len(features2)
    if min(n1, n2) < subset_size:
        raise ArgumentError(
            f"subset_size {subset_size} is more than the images of a set ({n1} and {n2}): "
            f"at most {min(n1, n2)} is possible",
            option="subset_size",
        )
    if subset_size < 2:
        raise ArgumentError(f"subset_size must be at least 2, got {subset_size}", option="subset_size")
    rng = np.random.RandomState(seed)
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    gamma = 1.0 / f1.shape[1]
    mmds = np.zeros(subsets)
    for i in range(subsets):
        x = f1[rng.choice(n1, subset_size, replace=False)]
        y = f2[rng.choice(n2, subset_size, replace=False)]
        kxx, kyy, kxy = (((p @ q.T) * gamma + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        m = subset_size
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        mmds[i] = within - 2 * kxy.sum() / (m * m)
    return float(mmds.mean()), float(mmds.std())


def inception_score(logits: np.ndarray, *, splits: int = 10, seed: int = 2020) -> tuple[float, float]:
    """The Inception Score as torch-fidelity computes it: the logits shuffled by ``RandomState(seed)``,
    cut into ``splits`` parts, ``exp(mean KL(p(y|x) || p(y)))`` on each; (mean, standard deviation)."""
    n = len(logits)
    if not 1 <= splits <= n:
        raise ArgumentError(f"splits must be between 1 and the number of images ({n}), got {splits}", option="splits")
    shuffled = np.asarray(logits, np.float64)[np.random.RandomState(seed).permutation(n)]
    log_p = shuffled - shuffled.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        q = p[part].mean(axis=0, keepdims=True)
        scores.append(float(np.exp((p[part] * (log_p[part] - np.log(q))).sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))
