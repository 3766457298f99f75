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
        expected = model(x)
        assert max_relative_error(fast(x), expected) <= 1e-4
        x_cl = x.contiguous(memory_format=torch.channels_last)  # reaches the network as it is
        assert max_relative_error(fast(x_cl), expected) <= 1e-4
    assert torch.equal(x_cl, x)  # the in-place steps never write into the caller's tensor
    after = model.state_dict()  # the original is untouched: the rewrites work on a copy
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_what_the_rewrites_remove():
    fast = optimize_for_inference(create_model("inception_resnet_v2"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    merged = [m for m in fast.modules() if type(m).__name__ == "MergedResidual"]
    assert len(merged) == 40 and all(m.scale == 1.0 for m in merged)  # scales folded into the projections


def test_batch_norm_after_a_concatenation_folds_into_the_next_conv():
    fast = optimize_for_inference(create_model("inception_next_tiny"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())


def test_every_conv_runs_through_onednn_with_the_activation_after_it():
    from inception_zoo.layers import ConvMlp
    from inception_zoo.optimize.onednn import OneDnnConv

    fast = optimize_for_inference(create_model("inception_v3", aux_logits=True))  # its side classifier's too
    wrapped = [m for m in fast.modules() if isinstance(m, OneDnnConv)]
    convs = [m for m in fast.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(wrapped) == len(convs)
    assert sum(m.post_op == ("relu", "") for m in wrapped) == 59
    for module in fast.modules():  # no ReLU is left directly after a conv
        if isinstance(module, torch.nn.Sequential):
            kinds = [type(m) for m in module if not isinstance(m, torch.nn.Identity)]
            assert (OneDnnConv, torch.nn.ReLU) not in zip(kinds, kinds[1:], strict=False)
    fast = optimize_for_inference(create_model("inception_next_atto"))
    mlps = [m for m in fast.modules() if isinstance(m, ConvMlp)]
    assert mlps and all(isinstance(m.fc1, OneDnnConv) and m.fc1.post_op == ("gelu", "none") for m in mlps)


def test_onednn_convs_fall_back_where_onednn_cannot_run_them():
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model("googlenet_cifar")).eval()
    fast = optimize_for_inference(model)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
    fast.requires_grad_(True)  # autograd: conv and activation as two steps, which it can differentiate
    out = fast(x)
    out.sum().backward()
    assert max_relative_error(out.detach(), expected) <= 1e-4
    wrapped = [m for n, m in fast.named_modules() if type(m).__name__ == "OneDnnConv" and "aux" not in n]
    assert wrapped and all(m.conv.weight.grad is not None for m in wrapped)  # the side classifiers sit out eval


def test_packed_weights_follow_new_weights_and_copies():
    import copy
    import pickle

    torch.manual_seed(0)
    model, other = (randomize_batchnorm(create_model("googlenet_cifar"), seed=s).eval() for s in (0, 1))
    fast, other_fast = optimize_for_inference(model), optimize_for_inference(other)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        fast(x)  # packs the weights
        twin = copy.deepcopy(fast)
        assert max_relative_error(pickle.loads(pickle.dumps(fast))(x), model(x)) <= 1e-4
        fast.load_state_dict(other_fast.state_dict())  # in place: the packed copies are stale
        assert max_relative_error(fast(x), other(x)) <= 1e-4
        assert max_relative_error(twin(x), model(x)) <= 1e-4


def test_folding_refuses_training_mode():
    with pytest.raises(ValueError, match="eval mode"):
        fold_affine_into_convs(create_model("googlenet").train())


def test_average_pool_branches_join_the_merged_conv():
    fast = optimize_for_inference(create_model("inception_v3"))
    merged = [m for m in fast.modules() if type(m).__name__ == "MergedBranches"]
    # Mixed_5b-5d, 6b-6e, 7b-7c: each pool branch now pools the output of the merged 1x1 conv.
    assert sum(len(m.pools) for m in merged) == 9
    assert not any(isinstance(m, torch.nn.AvgPool2d) for b in merged for m in b.others.modules())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_computes_in_it_and_answers_in_the_callers_dtype(dtype):
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model("googlenet_cifar"))
    fast = optimize_for_inference(model, dtype=dtype)
    assert {p.dtype for p in fast.parameters()} == {dtype}
    assert fast.name == "googlenet_cifar"  # the network's attributes are still there
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        got, expected = fast(x), model.eval()(x)
    assert got.dtype == torch.float32
    # Rounding to 8 or 11 significant bits, not a different function: the top-1 classes agree.
    assert 1e-5 < max_relative_error(got, expected) < 0.1
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_unsupported_dtype_is_refused():
    with pytest.raises(ValueError, match="bfloat16"):
        optimize_for_inference(create_model("googlenet_cifar"), dtype=torch.int8)


def test_compiled_model_gives_the_same_outputs():
    torch.manual_seed(0)
    model = randomize_batchnorm(create_model("googlenet_cifar")).eval()
    fast = optimize_for_inference(model, compile=True)  # inductor with freezing
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        assert max_relative_error(fast(x), model(x)) <= 1e-4


def test_keep_freed_memory_serves_large_tensors_from_the_heap():
    import ctypes
    import ctypes.util

    from inception_zoo.optimize import keep_freed_memory

    if not keep_freed_memory():
        pytest.skip("glibc only")

    fields = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")

    class MallInfo(ctypes.Structure):  # glibc's struct mallinfo
        _fields_ = [(name, ctypes.c_int) for name in fields]

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo.restype = MallInfo

    def bytes_mapped_for_64_mib() -> int:
        before = libc.mallinfo().hblkhd  # bytes in blocks mapped from the kernel one by one
        held = torch.ones(16 * 2**20)
        mapped = libc.mallinfo().hblkhd - before
        del held
        return mapped

    # By default glibc maps every block over 32 MiB from the kernel (and unmaps it when freed).
    assert bytes_mapped_for_64_mib() < 2**26  # from the heap, whose freed pages are kept
    assert keep_freed_memory(enabled=False) and keep_freed_memory()  # both ways can be set


def test_outputs_of_a_graph_replay_are_handed_out_as_copies():
    from inception_zoo.optimize.inference import _OwnOutputs

    class StaticOutput(torch.nn.Module):  # as a CUDA graph does: one output buffer, rewritten at each call
        name = "static"

        def __init__(self):
            super().__init__()
            self.register_buffer("out", torch.zeros(2))

        def forward(self, x):
            return self.out.copy_(x)

    model = _OwnOutputs(StaticOutput())
    first = model(torch.ones(2))
    model(torch.full((2,), 2.0))
    assert torch.equal(first, torch.ones(2))  # the first call's logits survive the second call
    assert model.name == "static"
