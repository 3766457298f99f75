"""Our networks load the references' checkpoints and give their logits (fp32, max relative error <= 1e-4).

Each reference model gets random weights and randomised BatchNorm statistics, is saved to a
file the way its library saves it, and is loaded through ``create_model(name, weights=path)``:
the same path a user's downloaded checkpoint takes.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch

from conftest import max_relative_error, randomize_batchnorm, save_checkpoint
from inception_zoo import create_model

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")
pretrainedmodels = pytest.importorskip("pretrainedmodels")

TOLERANCE = 1e-4


def torchvision_googlenet():
    return torchvision.models.googlenet(init_weights=True, aux_logits=True, transform_input=False)


def torchvision_inception_v3():
    return torchvision.models.inception_v3(init_weights=True, aux_logits=True, transform_input=False)


# (reference id, builder, our name, two input sizes, file suffix). Cadene's models pool with a
# fixed window (8x8, 7x7 for bninception), so their sizes are ones that end at that map.
REFERENCES = [
    ("torchvision-googlenet", torchvision_googlenet, "googlenet", (224, 160), ".pth"),
    ("torchvision-inception_v3", torchvision_inception_v3, "inception_v3", (299, 331), ".pth"),
    ("timm-inception_v3", lambda: timm.create_model("inception_v3"), "inception_v3", (299, 224), ".safetensors"),
    ("timm-inception_v4", lambda: timm.create_model("inception_v4"), "inception_v4", (299, 256), ".safetensors"),
    (
        "timm-inception_resnet_v2",
        lambda: timm.create_model("inception_resnet_v2"),
        "inception_resnet_v2",
        (299, 256),
        ".pth",
    ),
    ("cadene-inceptionv4", lambda: pretrainedmodels.inceptionv4(pretrained=None), "inception_v4", (299, 320), ".pth"),
    (
        "cadene-inceptionresnetv2",
        lambda: pretrainedmodels.inceptionresnetv2(pretrained=None),
        "inception_resnet_v2",
        (299, 320),
        ".pth",
    ),
    ("timm-legacy_xception", lambda: timm.create_model("legacy_xception"), "xception", (299, 224), ".safetensors"),
    ("cadene-bninception", lambda: pretrainedmodels.bninception(pretrained=None), "bn_inception", (224, 223), ".pth"),
    *(
        (
            f"timm-inception_next_{size}",
            partial(timm.create_model, f"inception_next_{size}"),
            f"inception_next_{size}",
            sizes,
            ".safetensors",
        )
        for size, sizes in (("atto", (224, 160)), ("tiny", (224, 128)), ("small", (128, 96)), ("base", (128, 96)))
    ),
    *(
        (f"timm-{name}", partial(timm.create_model, name), name, sizes, ".safetensors")
        for name, sizes in (("xception41", (299, 160)), ("xception65", (160, 96)), ("xception71", (160, 96)))
    ),
    ("cadene-xception", lambda: pretrainedmodels.xception(pretrained=None), "xception", (299, 171), ".pth"),
]


@pytest.mark.parametrize(
    "make_reference, name, sizes, suffix", [r[1:] for r in REFERENCES], ids=[r[0] for r in REFERENCES]
)
def test_same_logits_as_reference(tmp_path, make_reference, name, sizes, suffix):
    torch.manual_seed(0)
    reference = randomize_batchnorm(make_reference())
    path = save_checkpoint(reference.state_dict(), tmp_path / f"reference{suffix}")
    ours = create_model(name, weights=path).eval()
    for size in sizes:
        for batch in (1, 3):
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                expected = reference(x)
                got = ours(x)
            assert got.shape == expected.shape
            error = max_relative_error(got, expected)
            assert error <= TOLERANCE, f"{name} at {batch}x{size}x{size}: max relative error {error:.2e}"


def _output_of(module: torch.nn.Module, run) -> torch.Tensor:
    captured = []
    handle = module.register_forward_hook(lambda m, i, o: captured.append(o))
    try:
        run()
    finally:
        handle.remove()
    return captured[0]


def test_torchvision_googlenet_side_classifiers(tmp_path):
    """Side classifiers in network order (torchvision returns them reversed: logits, aux2, aux1)."""
    reference = randomize_batchnorm(torchvision_googlenet())
    ours = create_model("googlenet", weights=save_checkpoint(reference.state_dict(), tmp_path / "g.pth")).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        aux1 = reference.aux1(_output_of(reference.inception4a, lambda: reference(x)))
        aux2 = reference.aux2(_output_of(reference.inception4d, lambda: reference(x)))
        out = ours.forward_train(x)
    assert max_relative_error(out.aux[0], aux1) <= TOLERANCE
    assert max_relative_error(out.aux[1], aux2) <= TOLERANCE


@pytest.mark.parametrize("source", ["torchvision", "timm"])
def test_inception_v3_side_classifier(tmp_path, source):
    if source == "timm":
        reference = randomize_batchnorm(timm.create_model("inception_v3", aux_logits=True))
    else:
        reference = randomize_batchnorm(torchvision_inception_v3())
    ours = create_model("inception_v3", weights=save_checkpoint(reference.state_dict(), tmp_path / "v3.pth")).eval()
    assert ours.has_aux
    x = torch.randn(2, 3, 299, 299)
    with torch.no_grad():
        if source == "timm":
            logits, aux = reference(x)  # timm returns (logits, aux) in every mode
        else:
            logits = reference(x)
            aux = reference.AuxLogits(_output_of(reference.Mixed_6e, lambda: reference(x)))
        out = ours.forward_train(x)
    assert max_relative_error(out.logits, logits) <= TOLERANCE
    assert max_relative_error(out.aux[0], aux) <= TOLERANCE


def test_inception_v3_without_aux_loads_aux_checkpoint(tmp_path):
    """aux_logits=False with a checkpoint that has the side head: the head is dropped, and says so."""
    reference = randomize_batchnorm(torchvision_inception_v3())
    path = save_checkpoint(reference.state_dict(), tmp_path / "v3.pth")
    with pytest.warns(UserWarning, match="dropped the side classifiers"):
        ours = create_model("inception_v3", weights=path, aux_logits=False).eval()
    assert not ours.has_aux
    x = torch.randn(1, 3, 299, 299)
    with torch.no_grad():
        assert max_relative_error(ours(x), reference(x)) <= TOLERANCE


def test_timm_v3_without_aux_has_no_aux(tmp_path):
    reference = randomize_batchnorm(timm.create_model("inception_v3"))
    ours = create_model("inception_v3", weights=save_checkpoint(reference.state_dict(), tmp_path / "v3.pth"))
    assert not ours.has_aux  # aux_logits follows the file when not given


@pytest.mark.parametrize("name", ["inception_v3", "inception_resnet_v2"])
def test_feature_pyramid_equals_timm_features_only(tmp_path, name):
    """Where timm taps the same layers (the last at each stride), the maps are the same numbers."""
    reference = randomize_batchnorm(timm.create_model(name))
    path = save_checkpoint(reference.state_dict(), tmp_path / "ref.pth")
    timm_features = timm.create_model(name, features_only=True)
    timm_features.load_state_dict(reference.state_dict(), strict=False)
    timm_features.eval()
    ours = create_model(name, weights=path, features_only=True).eval()
    assert [f["num_chs"] for f in ours.feature_info] == timm_features.feature_info.channels()
    assert [f["reduction"] for f in ours.feature_info] == timm_features.feature_info.reduction()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        for got, expected in zip(ours(x), timm_features(x), strict=True):
            assert max_relative_error(got, expected) <= TOLERANCE


def test_bn_inception_features_at_sizes_cadene_cannot_classify(tmp_path):
    """At 256 Cadene's fixed 7x7 pool breaks its classifier, but its trunk runs: compare trunks."""
    reference = randomize_batchnorm(pretrainedmodels.bninception(pretrained=None))
    ours = create_model("bn_inception", weights=save_checkpoint(reference.state_dict(), tmp_path / "bn.pth")).eval()
    x = torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        assert max_relative_error(ours.forward_features(x), reference.features(x)) <= TOLERANCE
        with pytest.raises(RuntimeError):
            reference(torch.randn(1, 3, 200, 200))  # odd maps at 3c: the Caffe design fails ...
        assert ours(torch.randn(1, 3, 200, 200)).shape == (1, 1000)  # ... ours pads them (docs, NOTE)


@pytest.mark.parametrize("classify", [False, True], ids=["embedding", "logits"])
def test_facenet_inception_resnet_v1(tmp_path, classify):
    """facenet-pytorch's checkpoints rebuild its head: L2-normalised 512-d embeddings, or logits."""
    facenet = pytest.importorskip("facenet_pytorch")
    reference = randomize_batchnorm(facenet.InceptionResnetV1(classify=classify, num_classes=10 if classify else None))
    path = save_checkpoint(reference.state_dict(), tmp_path / "facenet.pt")
    ours = create_model("inception_resnet_v1", weights=path).eval()
    assert ours.num_classes == (10 if classify else 0)
    for size in (160, 299):
        for batch in (1, 3):
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                expected, got = reference(x), ours(x)
            assert got.shape == expected.shape == (batch, 10 if classify else 512)
            assert max_relative_error(got, expected) <= TOLERANCE
    if classify:  # a classifier checkpoint also gives embeddings, when asked for no classes
        with pytest.warns(UserWarning, match="dropped the classifier"):
            embedder = create_model("inception_resnet_v1", weights=path, num_classes=0).eval()
        reference.classify = False
        with torch.no_grad():
            x = torch.randn(2, 3, 160, 160)
            assert max_relative_error(embedder(x), reference(x)) <= TOLERANCE
