"""The model contract, checked for every registered network (new networks get these for free)."""

from __future__ import annotations

import pytest
import torch

import inception_zoo
from inception_zoo import TrainOutput, create_model, inception_loss, list_models, model_info

MODELS = list_models()
# Small inputs keep the suite fast; the parity tests cover the papers' sizes.
SIZE = {name: max(model_info(name).min_input_size, min(96, model_info(name).input_size[-1])) for name in MODELS}


@pytest.fixture(scope="module", params=MODELS)
def model(request):
    """Each network with the side classifiers it has (the default build has none)."""
    torch.manual_seed(0)
    return create_model(request.param, num_classes=7, aux_logits=model_info(request.param).aux_heads > 0)


def test_registry_is_not_empty():
    assert {"googlenet", "googlenet_paper", "inception_v3", "inception_v4", "inception_resnet_v2"} <= set(MODELS)


def test_forward_returns_logits_in_train_and_eval_mode(model):
    x = torch.randn(2, 3, SIZE[model.name], SIZE[model.name])
    for mode in (True, False):
        model.train(mode)
        with torch.no_grad():
            out = model(x)
        assert isinstance(out, torch.Tensor) and out.shape == (2, 7)


def test_forward_train_gives_logits_and_aux(model):
    info = model_info(model.name)
    model.eval()
    x = torch.randn(2, 3, SIZE[model.name], SIZE[model.name])
    with torch.no_grad():
        out = model.forward_train(x)
        plain = model(x)
    assert isinstance(out, TrainOutput)
    assert out.logits.shape == (2, 7)
    assert len(out.aux) == info.aux_heads == len(model.aux_heads)
    assert all(a.shape == (2, 7) for a in out.aux)
    torch.testing.assert_close(out.logits, plain)


def test_backward_reaches_every_parameter(model):
    model.train()
    model.zero_grad(set_to_none=True)
    x = torch.randn(2, 3, SIZE[model.name], SIZE[model.name])
    out = model.forward_train(x)
    loss = inception_loss(out, torch.tensor([1, 3]), aux_weight=0.3)
    loss.backward()
    unreached = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unreached, f"no gradient reaches {unreached[:5]}"


def test_forward_features_and_head(model):
    model.eval()
    x = torch.randn(1, 3, SIZE[model.name], SIZE[model.name])
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.shape[:2] == (1, model.num_features)
        assert model.forward_head(features, pre_logits=True).shape == (1, model.head_hidden_size)
        torch.testing.assert_close(model.forward_head(features), model(x))


def test_minimum_input_size_is_exact(model):
    """The declared minimum works (aux heads included), one pixel less is refused clearly."""
    size = model.min_input_size
    assert size == model_info(model.name).min_input_size
    model.eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, size, size))
        assert out.logits.shape == (1, 7)
        with pytest.raises(ValueError, match=rf"at least {size}x{size} pixels, got {size - 1}x{size}"):
            model(torch.randn(1, 3, size - 1, size))
        # ... and it is the network's real limit, not a guess: without the check, PyTorch fails.
        check, model.check_input = model.check_input, lambda x: None
        try:
            with pytest.raises(RuntimeError):
                model.forward_train(torch.randn(1, 3, size - 1, size - 1))
        finally:
            model.check_input = check


def test_non_default_non_square_input(model):
    model.eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, SIZE[model.name] + 13, SIZE[model.name] + 40))
    assert out.logits.shape == (1, 7) and all(a.shape == (1, 7) for a in out.aux)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((3, 299, 299), "expects a 4-D batch"),
        ((1, 1, 299, 299), "built for 3-channel input, got 1 channels"),
        ((1, 4, 299, 299), "pass in_chans=4"),
    ],
)
def test_bad_input_is_refused_before_the_first_layer(model, shape, message):
    with pytest.raises(ValueError, match=message):
        model(torch.randn(*shape))


def test_reset_classifier(model):
    model.reset_classifier(3)
    model.eval()
    x = torch.randn(1, 3, SIZE[model.name], SIZE[model.name])
    with torch.no_grad():
        out = model.forward_train(x)
    assert out.logits.shape == (1, 3) and all(a.shape == (1, 3) for a in out.aux)
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (1, model.head_hidden_size)
    model.reset_classifier(7)


@pytest.mark.parametrize("name", MODELS)
def test_in_chans_and_no_aux(name):
    model = create_model(name, in_chans=1, aux_logits=False, num_classes=5).eval()
    assert not model.aux_heads
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 1, SIZE[name], SIZE[name]))
    assert out.logits.shape == (1, 5) and out.aux == []


@pytest.mark.parametrize("name", MODELS)
def test_model_info_is_complete(name):
    info = model_info(name)
    assert info.name == name and info.paper.arxiv and info.paper.title
    assert info.input_size[0] == 3 and info.min_input_size < info.input_size[1]
    pre = info.preprocessing
    assert info.params > 0 and info.gmacs > 0 and 0 < pre.crop_pct <= 1
    assert pre.interpolation in {"bilinear", "bicubic"} and len(pre.mean) == len(pre.std) == 3
    if info.aux_heads:
        assert info.aux_loss_weight is not None


def test_unknown_and_contradictory_arguments_raise():
    with pytest.raises(ValueError, match="did you mean inception_v3"):
        create_model("inception_v33")
    with pytest.raises(ValueError, match="does not take drop_rat"):
        create_model("inception_v3", drop_rat=0.1)
    with pytest.raises(ValueError, match="no side classifier"):
        create_model("inception_v4", aux_logits=True)
    with pytest.raises(ValueError, match="num_classes must be >= 0"):
        create_model("googlenet", num_classes=-1)


def test_builders_are_keyword_only():
    with pytest.raises(TypeError):
        inception_zoo.models.inception_v3.InceptionV3(10)


def test_inception_loss_weights_the_side_classifiers():
    logits = torch.tensor([[2.0, 0.0]])
    aux = [torch.tensor([[0.0, 2.0]]), torch.tensor([[0.0, 0.0]])]
    target = torch.tensor([0])
    ce = torch.nn.functional.cross_entropy
    expected = ce(logits, target) + 0.3 * (ce(aux[0], target) + ce(aux[1], target))
    torch.testing.assert_close(inception_loss(TrainOutput(logits, aux), target, aux_weight=0.3), expected)
    torch.testing.assert_close(inception_loss(logits, target, aux_weight=0.3), ce(logits, target))


def test_feature_pyramid(model):
    """One map per stride, strides distinct and increasing, channels as feature_info says."""
    from inception_zoo.models._features import FeatureExtractor

    info = model_info(model.name).feature_info
    strides = [f["reduction"] for f in info]
    assert strides == sorted(set(strides))
    if model_info(model.name).input_size[-1] >= 224:
        assert strides[-1] == 32
    assert info[-1]["num_chs"] == model.num_features
    model.eval()
    extractor = FeatureExtractor(model, list(info))
    size = SIZE[model.name] * 2
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        maps = extractor(x)
        assert [m.shape[1] for m in maps] == [f["num_chs"] for f in info]
        widths = [m.shape[-1] for m in maps]
        assert widths == sorted(widths, reverse=True) and len(set(widths)) == len(widths)
        torch.testing.assert_close(maps[-1], model.forward_features(x))


@pytest.mark.parametrize("name", ["googlenet", "inception_v4"])
def test_features_only(name):
    extractor = create_model(name, features_only=True, out_indices=(1, -1)).eval()
    info = model_info(name).feature_info
    assert extractor.feature_info == [info[1], info[-1]]
    with torch.no_grad():
        maps = extractor(torch.randn(1, 3, SIZE[name], SIZE[name]))
    assert [m.shape[1] for m in maps] == [info[1]["num_chs"], info[-1]["num_chs"]]
    with pytest.raises(ValueError, match="out_indices .* do not fit"):
        create_model(name, features_only=True, out_indices=(7,))
    with pytest.raises(ValueError, match="only with features_only"):
        create_model(name, out_indices=(1,))
    with pytest.raises(ValueError, match="needs inputs of at least"):
        extractor(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize("name", [n for n in MODELS if not n.endswith("_cifar")])
def test_small_input_build_has_an_exact_minimum_too(name):
    """``small_input=True`` (how the 32x32 profiles are built) on every network: the minimum it declares is real."""
    from inception_zoo.models._zoo import registered

    with torch.device("meta"):
        model = registered(name).build(small_input=True).eval()
        size = model.min_input_size
        assert model.forward_train(torch.empty(1, 3, size, size)).logits.shape == (1, model.num_classes)
        with pytest.raises(ValueError, match=rf"at least {size}x{size} pixels"):
            model(torch.empty(1, 3, size - 1, size))
        if size > 1:
            model.check_input = lambda x: None
            with pytest.raises(RuntimeError):
                model.forward_train(torch.empty(1, 3, size - 1, size - 1))
