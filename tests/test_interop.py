"""The tools users already run, driven for real on our networks: torch.fx and torchvision's feature
extraction, torch.export, timm's data config, optimizer factory and model interface, and a plain DDP loop."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import max_relative_error, randomize_batchnorm
from inception_zoo import create_model, list_models, model_info
from inception_zoo.catalog import catalog

timm = pytest.importorskip("timm")

MODELS = list_models()


def size_of(name: str) -> int:
    info = model_info(name)
    return max(info.min_input_size, min(96, info.input_size[-1]))


@pytest.fixture(scope="module")
def image() -> Image.Image:
    y, x = np.mgrid[0:333, 0:401]
    rgb = np.stack([(x * 0.6) % 256, (y * 0.7) % 256, ((x + y) * 0.3) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


# torch.fx, torchvision's feature extraction, torch.export


@pytest.mark.parametrize("name", MODELS)
def test_fx_tracing_and_torchvision_feature_extraction(name):
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    model = randomize_batchnorm(create_model(name))
    x = torch.randn(2, 3, size_of(name), size_of(name))
    traced = torch.fx.symbolic_trace(model)
    _, nodes = get_graph_node_names(model)
    last = model.feature_info.module_name(-1)
    extractor = create_feature_extractor(model, return_nodes={last: "last", nodes[-1]: "logits"})
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(traced(x), expected)
        out = extractor(x)
        assert torch.equal(out["logits"], expected)
        assert torch.equal(out["last"], model.forward_features(x))
        with pytest.raises(ValueError, match="needs inputs of at least"):  # the traced module checks inputs too
            traced(torch.randn(1, 3, model.min_input_size - 1, model.min_input_size))


@pytest.mark.parametrize("name", MODELS)
def test_torch_export_with_a_dynamic_batch(name):
    model = randomize_batchnorm(create_model(name))
    size = size_of(name)
    program = torch.export.export(
        model, (torch.randn(2, 3, size, size),), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=64)}}
    )
    for batch in (1, 5):
        x = torch.randn(batch, 3, size, size)
        with torch.no_grad():
            assert max_relative_error(program.module()(x), model(x)) <= 1e-5


# timm's data config and transforms


@pytest.mark.parametrize("name", [row["name"] for row in catalog()])
def test_timm_reads_our_preprocessing(name, image):
    from timm.data import create_transform, resolve_data_config

    model = create_model(name)
    pre = model.preprocessing
    config = resolve_data_config(model=model)
    assert config["input_size"] == pre.input_size and config["interpolation"] == pre.interpolation
    assert config["crop_pct"] == pytest.approx(pre.crop_pct)
    scale = pre.input_range[1]
    assert config["mean"] == pytest.approx([m / scale for m in pre.mean])
    assert config["std"] == pytest.approx([s / scale for s in pre.std])
    if pre.channel_order == "RGB" and pre.input_size[-1] >= 224:  # timm has no BGR; and no 32x32 crop here
        from inception_zoo import transforms_for

        torch.testing.assert_close(create_transform(**config)(image), transforms_for(model)(image), atol=1e-6, rtol=0)


# timm's model interface


@pytest.mark.parametrize("name", ["inception_v4", "inception_next_atto"])
def test_forward_intermediates_equal_timms(name, tmp_path):
    from safetensors.torch import save_file

    reference = randomize_batchnorm(timm.create_model(name))
    path = tmp_path / "timm.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, path)
    ours = create_model(name, weights=path).eval()
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        for indices in (None, 2, [0, -1], [1]):
            final, maps = ours.forward_intermediates(x, indices=indices)
            timm_final, timm_maps = reference.forward_intermediates(x, indices=indices)
            assert [m.shape for m in maps] == [m.shape for m in timm_maps], indices
            assert all(max_relative_error(a, b) <= 1e-4 for a, b in zip(maps, timm_maps, strict=True))
            assert max_relative_error(final, timm_final) <= 1e-4
        early = ours.forward_intermediates(x, indices=[1], stop_early=True, intermediates_only=True)
        assert len(early) == 1 and torch.equal(early[0], maps[0])
    assert ours.feature_info.channels() == [info["num_chs"] for info in reference.feature_info]
    assert ours.feature_info.reduction() == [info["reduction"] for info in reference.feature_info]
    kept = ours.prune_intermediate_layers([1])
    assert kept == reference.prune_intermediate_layers([1])
    with torch.no_grad():
        assert torch.equal(ours.forward_intermediates(x, indices=kept, intermediates_only=True)[0], maps[0])


@pytest.mark.parametrize("name", [n for n in MODELS if not n.endswith("_cifar")])
def test_forward_intermediates_and_pruning_on_every_network(name):
    model = create_model(name).eval()
    info = model.feature_info
    modules = dict(model.named_modules())
    assert all(path in modules for path in info.module_name())
    size = max(size_of(name), 2 * model.min_input_size)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        final, maps = model.forward_intermediates(x)
        assert [m.shape[1] for m in maps] == info.channels()
        assert torch.equal(final, model.forward_features(x))
        assert model.prune_intermediate_layers([1]) == [1]  # the layers after the second map go, and the head
        assert model.num_features == info.channels(1) and model.feature_info == info[:2]
        assert torch.equal(model.forward_intermediates(x, indices=[1], intermediates_only=True)[0], maps[1])


def test_reset_classifier_with_timms_arguments():
    model = create_model("inception_v3").eval()
    x = torch.randn(1, 3, 96, 96)
    model.reset_classifier(0, "")
    with torch.no_grad():
        assert model(x).shape == (1, 2048, 1, 1)  # no pooling: the feature map itself
    model.reset_classifier(5, "max")
    with torch.no_grad():
        assert model(x).shape == (1, 5)
    with pytest.raises(ValueError, match="pooled features"):
        model.reset_classifier(5, "")
    with pytest.raises(ValueError, match="pooled features"):
        create_model("inception_next_atto").reset_classifier(0, "")  # as in timm: its MLP needs pooling
    atto = create_model("inception_next_atto")
    atto.reset_classifier(0, "avg", reset_other=True)
    with torch.no_grad():
        assert atto.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 320)


@pytest.mark.parametrize("name", ["googlenet", "inception_resnet_v2", "inception_next_tiny"])
def test_layer_wise_lr_decay_through_timms_optimizer_factory(name):
    from timm.optim import create_optimizer_v2

    model = create_model(name)
    optimizer = create_optimizer_v2(model, "adamw", lr=1e-3, weight_decay=0.05, layer_decay=0.65)
    scales = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            scales[id(p)] = group["lr_scale"]
    named = dict(model.named_parameters())
    first = named[next(n for n in named if n.startswith(f"features.{model.stem_layers[0]}."))]
    last_layer = list(model.features._modules)[-1]
    deep = named[next(n for n in named if n.startswith(f"features.{last_layer}."))]
    head = named["head.fc.weight"]
    assert scales[id(first)] < scales[id(deep)] < scales[id(head)] == 1.0
    assert len(set(scales.values())) > 5  # one scale per layer, not one for all
    assert model.no_weight_decay() == set()


@pytest.mark.parametrize("name", ["googlenet_cifar", "inception_resnet_v2_cifar", "inception_next_atto_cifar"])
def test_gradient_checkpointing_same_gradients_and_statistics_less_memory(name):
    torch.manual_seed(0)
    plain = create_model(name).train()
    checkpointed = create_model(name).train()
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.set_grad_checkpointing()
    x, target = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    kept = {}
    for label, model in (("plain", plain), ("checkpointed", checkpointed)):
        held = []

        def keep(tensor, held=held):
            held.append(tensor.untyped_storage().nbytes())
            return tensor

        torch.manual_seed(1)  # the same dropout draws in both
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        kept[label] = sum(held)
    for (name_a, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6, msg=name_a)
    for (name_a, a), (_, b) in zip(plain.named_buffers(), checkpointed.named_buffers(), strict=True):
        torch.testing.assert_close(a, b, msg=name_a)  # BatchNorm's statistics were updated once, not twice
    assert kept["checkpointed"] < kept["plain"] / 3, kept  # activations kept for backward


def test_pretrained_cfg_describes_the_weights():
    model = create_model("bn_inception")
    cfg = model.pretrained_cfg
    assert cfg == model.default_cfg
    assert cfg["mean"] == pytest.approx((104 / 255, 117 / 255, 128 / 255)) and cfg["channel_order"] == "BGR"
    assert cfg["classifier"] == "head.fc" and cfg["first_conv"].startswith("features.conv1_7x7_s2")


# A plain DDP loop, as a user writes it, under gloo.

DDP_LOOP = textwrap.dedent(
    """
    import os, torch, torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from inception_zoo import TrainForward, create_model, inception_loss

    dist.init_process_group("gloo")
    torch.manual_seed(0)
    for aux in (False, True):
        network = create_model("googlenet_cifar", aux_logits=aux)
        # the side classifiers' logits through DDP's own forward: wrap TrainForward(network)
        model = DistributedDataParallel(TrainForward(network) if aux else network)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        for step in range(3):
            x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
            if aux:
                loss = inception_loss(model(x), y, aux_weight=0.3)
            else:
                loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    if dist.get_rank() == 0:
        print("steps done")
    dist.destroy_process_group()
    """
)


def test_a_plain_ddp_loop_runs_on_the_model_as_returned(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(DDP_LOOP)
    env = os.environ | {"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0 and "steps done" in done.stdout, done.stderr[-3000:]
