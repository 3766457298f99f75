"""Scoring generative models with the FID network: FID, KID and the Inception Score, equal to
pytorch-fid's and torch-fidelity's. A facade: names are imported on first use."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "PROTOCOLS",
    "FeatureStatistics",
    "features_of",
    "fid",
    "fid_model",
    "fid_statistics",
    "inception_score_of",
    "kid",
    "load_statistics",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PROTOCOLS": ".options",
        "FeatureStatistics": ".statistics",
        "load_statistics": ".statistics",
        "features_of": ".api",
        "fid": ".api",
        "fid_model": ".api",
        "fid_statistics": ".api",
        "inception_score_of": ".api",
        "kid": ".api",
    },
)

if TYPE_CHECKING:
    from .api import features_of, fid, fid_model, fid_statistics, inception_score_of, kid
    from .options import PROTOCOLS
    from .statistics import FeatureStatistics, load_statistics
