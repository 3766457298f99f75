"""Inference rewrites keep every network's outputs (fp32, max relative error <= 1e-4)."""

from __future__ import annotations

import pytest
import torch

from conftest import max_relative_error, randomize_batchnorm
from inception_zoo import create_model, list_models, model_info, optimize_for_inference
from inception_zoo.optimize import fold_affine_into_convs

MODELS = list_models()


@pytest.mark.parametrize("name", MODELS)
def test_optimized_model_gives_the_same_outputs(name):
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model(name))
    for m in model.modules():  # non-trivial layer scales, so that folding them is tested
        if hasattr(m, "gamma"):
            m.gamma.data.uniform_(0.5, 1.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = optimize_for_inference(model)
    size = max(model.min_input_size, min(96, model_info(name).input_size[-1]))
    x = torch.randn(2, 3, size, size)  # plain NCHW input
    with torch.no_grad():
        assert max_relative_error(fast(x), model(x)) <= 1e-4
    after = model.state_dict()  # the original is untouched: the rewrites work on a copy
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_what_the_rewrites_remove():
    fast = optimize_for_inference(create_model("inception_resnet_v2"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    merged = [m for m in fast.modules() if type(m).__name__ == "MergedResidual"]
    assert len(merged) == 40 and all(m.scale == 1.0 for m in merged)  # scales folded into the projections


def test_folding_refuses_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        fold_affine_into_convs(create_model("googlenet").train())


def test_average_pool_branches_join_the_merged_conv():
    fast = optimize_for_inference(create_model("inception_v3"))
    merged = [m for m in fast.modules() if type(m).__name__ == "MergedBranches"]
    # Mixed_5b-5d, 6b-6e, 7b-7c: each pool branch now pools the output of the merged 1x1 conv.
    assert sum(len(m.pools) for m in merged) == 9
    assert not any(isinstance(m, torch.nn.AvgPool2d) for b in merged for m in b.others.modules())
