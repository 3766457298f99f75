"""Checkpoint reading and conversion: every way a file can be wrong gets a clear error."""

from __future__ import annotations

import pytest
import torch

from conftest import max_relative_error, randomize_batchnorm, save_checkpoint
from inception_zoo import create_model, model_info, save_weights
from inception_zoo.convert import LAYOUTS, read_state_dict, recognise

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")


@pytest.fixture(scope="module")
def googlenet_state():
    return torchvision.models.googlenet(init_weights=False, aux_logits=True).state_dict()


def test_every_layout_maps_onto_our_keys_one_to_one():
    """The rename tables reach every key of each reference and nothing else (checked on shapes too)."""
    import facenet_pytorch
    import pretrainedmodels

    references = {
        "torchvision googlenet": lambda: torchvision.models.googlenet(init_weights=False, aux_logits=True),
        "torchvision/timm inception_v3": lambda: torchvision.models.inception_v3(init_weights=False),
        "timm/Cadene inception_v4": lambda: pretrainedmodels.inceptionv4(pretrained=None),
        "timm/Cadene inception_resnet_v2": lambda: timm.create_model("inception_resnet_v2"),
        "timm legacy_xception / Cadene xception": lambda: pretrainedmodels.xception(pretrained=None),
        "Cadene bninception": lambda: pretrainedmodels.bninception(pretrained=None),
        "timm inception_next": lambda: timm.create_model("inception_next_atto"),
        "timm xception41/65/71": lambda: timm.create_model("xception41"),
        "facenet-pytorch InceptionResnetV1": lambda: facenet_pytorch.InceptionResnetV1(classify=True, num_classes=3),
    }
    assert set(references) == {layout.source for layout in LAYOUTS}
    for layout in LAYOUTS:
        state = references[layout.source]().state_dict()
        assert recognise(state) is layout
        layers = model_info(layout.models[0]).layers
        renamed = {layout.rename(k, layers): v.shape for k, v in state.items()}
        model = create_model(
            layout.models[0],
            num_classes=3 if "facenet" in layout.source else 1000,
            aux_logits=model_info(layout.models[0]).aux_heads > 0,  # the references build theirs by default
            **dict(layout.model_kwargs),
        )
        ours = {k: v.shape for k, v in model.state_dict().items()}
        assert renamed == ours, layout.source


def test_our_own_state_dict_round_trips(tmp_path):
    model = create_model("inception_v4", num_classes=10).eval()
    path = save_checkpoint(model.state_dict(), tmp_path / "ours.safetensors")
    again = create_model("inception_v4", num_classes=10, weights=path).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_wrapped_and_data_parallel_checkpoints_are_unwrapped(tmp_path, googlenet_state):
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in googlenet_state.items()}}
    path = tmp_path / "wrapped.pth"
    torch.save(wrapped, path)
    assert set(read_state_dict(path)) == set(googlenet_state)
    create_model("googlenet", weights=path)


def test_a_checkpoint_of_another_network_is_named(tmp_path, googlenet_state):
    path = save_checkpoint(googlenet_state, tmp_path / "g.pth")
    with pytest.raises(
        ValueError, match=r"torchvision googlenet checkpoint: build it with create_model\('googlenet', \.\.\.\)"
    ):
        create_model("inception_v3", weights=path)
    with pytest.raises(ValueError, match="torchvision googlenet checkpoint"):
        create_model("googlenet_paper", weights=path)


def test_an_unknown_format_lists_what_is_supported(tmp_path):
    path = save_checkpoint({"encoder.layer.0.weight": torch.zeros(2)}, tmp_path / "x.pth")
    with pytest.raises(
        ValueError, match="not a checkpoint format we know.*encoder.layer.0.weight.*torchvision googlenet"
    ):
        create_model("googlenet", weights=path)


def test_a_shape_that_cannot_be_adapted_names_the_key(tmp_path, googlenet_state):
    broken = dict(googlenet_state)
    broken["inception4b.branch2.1.conv.weight"] = torch.zeros(224, 112, 5, 5)
    path = save_checkpoint(broken, tmp_path / "g.pth")
    with pytest.raises(
        ValueError, match=r"'features.inception4b.branches.1.1.conv.weight' has shape \(224, 112, 5, 5\)"
    ):
        create_model("googlenet", weights=path)


def test_missing_key_names_the_file_and_the_key(tmp_path, googlenet_state):
    broken = {k: v for k, v in googlenet_state.items() if k != "inception4b.branch2.1.conv.weight"}
    path = save_checkpoint(broken, tmp_path / "broken.pth")
    with pytest.raises(
        ValueError, match=r"broken.pth .*1 missing, first 'features.inception4b.branches.1.1.conv.weight'"
    ):
        create_model("googlenet", weights=path)


def test_background_class_of_tf_slim_ports_is_dropped(tmp_path):
    reference = timm.create_model("inception_v4", num_classes=1001).eval()
    path = save_checkpoint(reference.state_dict(), tmp_path / "v4_1001.pth")
    with pytest.warns(UserWarning, match="background class"):
        ours = create_model("inception_v4", weights=path).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x)[:, 1:], rtol=1e-4, atol=1e-5)


def test_truncated_files_are_refused_clearly(tmp_path, googlenet_state):
    for suffix in (".pth", ".safetensors"):
        path = save_checkpoint(googlenet_state, tmp_path / f"full{suffix}")
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(ValueError, match=r"cut\.(pth|safetensors) is not a readable .*\(truncated or corrupt\?\)"):
            create_model("googlenet", weights=cut)


def test_any_random_bytes_are_named_not_a_checkpoint(tmp_path):
    """Random bytes trip the unpickler in many ways (IndexError, KeyError, a wild protocol number): one message."""
    import random
    import warnings

    from inception_zoo.convert import load_pickle

    generator = random.Random(0)
    path = tmp_path / "junk.pth"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(400):
            path.write_bytes(generator.randbytes(512))
            with pytest.raises(ValueError, match=r"junk\.pth is not a readable checkpoint \(truncated or corrupt\?\)"):
                load_pickle(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        create_model("googlenet", weights="/nonexistent/weights.pth")


class _Payload:
    """A pickle that creates a file when unpickled: what a malicious checkpoint does."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path, googlenet_state):
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        torch.save({"state_dict": googlenet_state, "extra": _Payload(str(target))}, f)
    with pytest.raises(ValueError, match="refused to load .*evil.pth.*Nothing in it was run"):
        create_model("googlenet", weights=path)
    assert not target.exists()
    # ... and the payload really is live: plain pickle would have created the file.
    torch.load(path, weights_only=False)
    assert target.exists()


def test_a_fine_tuned_checkpoint_needs_no_num_classes(tmp_path):
    model = create_model("inception_v3", num_classes=10, aux_logits=False)
    path = save_checkpoint(model.state_dict(), tmp_path / "finetuned.pth")
    again = create_model("inception_v3", weights=path)
    assert again.num_classes == 10 and not again.has_aux


# The way back: our weights under each library's keys. (our network, library, its options, input size)
EXPORTS = [
    ("googlenet", "torchvision", {"aux_logits": True}, 224),
    ("inception_v3", "torchvision", {}, 299),
    ("inception_v3", "timm", {"aux_logits": True}, 299),
    ("inception_v4", "timm", {}, 299),
    ("inception_v4", "cadene", {}, 299),  # Cadene's models pool with a fixed 8x8 window
    ("inception_resnet_v2", "timm", {}, 299),
    ("inception_resnet_v2", "cadene", {}, 299),
    ("xception", "timm", {}, 299),
    ("xception", "cadene", {}, 299),
    ("bn_inception", "cadene", {}, 224),
    ("inception_next_atto", "timm", {}, 160),
    ("xception41", "timm", {}, 160),
    ("inception_resnet_v1", "facenet", {"final_linear_block": True, "embedding": True}, 160),
    ("inception_resnet_v1", "facenet", {"final_linear_block": True, "embedding": True, "num_classes": 0}, 160),
]


def test_every_library_that_reads_a_layout_is_exported_to():
    assert {(layout.models[0], reader.library) for layout in LAYOUTS for reader in layout.readers} == {
        (name, library) for name, library, _, _ in EXPORTS
    }


def _reference_from(call: str):
    """Run the call that ``export_call`` tells a user to make."""
    import facenet_pytorch
    import pretrainedmodels

    modules = {"timm": timm, "torchvision": torchvision, "pretrainedmodels": pretrainedmodels}
    return eval(call, {**modules, "facenet_pytorch": facenet_pytorch})  # noqa: S307 - our own fixed strings


@pytest.mark.parametrize(
    "name, library, options, size", EXPORTS, ids=[f"{e[0]}-{e[1]}-{e[2].get('num_classes', 10)}" for e in EXPORTS]
)
def test_our_weights_load_strictly_into_the_library_and_give_its_logits(tmp_path, name, library, options, size):
    from inception_zoo.weights import export_call

    torch.manual_seed(0)
    ours = randomize_batchnorm(create_model(name, **{"num_classes": 10, **options}))
    path = save_weights(ours, tmp_path / f"for_{library}.safetensors", to=library)
    reference = _reference_from(export_call(ours, library)).eval()
    reference.load_state_dict(read_state_dict(path), strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = reference(x)
        expected = expected[0] if isinstance(expected, tuple) else expected  # timm's v3 with its side head
        assert max_relative_error(ours(x), expected) <= 1e-4
    again = create_model(name, weights=path)  # and back: the file is one of that library's
    assert again.state_dict().keys() == ours.state_dict().keys()
    assert all(torch.equal(again.state_dict()[k], v) for k, v in ours.state_dict().items())


def test_the_cli_writes_a_library_checkpoint_and_says_how_to_load_it(tmp_path, capsys):
    from inception_zoo.cli import main

    ours = create_model("inception_v4", num_classes=5)
    save_weights(ours, tmp_path / "ours.safetensors")
    assert main(["convert", str(tmp_path / "ours.safetensors"), str(tmp_path / "timm.pth"), "--to", "timm"]) == 0
    said = capsys.readouterr().out
    assert "timm.create_model('inception_v4', num_classes=5)" in said
    reference = timm.create_model("inception_v4", num_classes=5)
    reference.load_state_dict(torch.load(tmp_path / "timm.pth", weights_only=True), strict=True)


@pytest.mark.parametrize(
    "build, library, message",
    [
        (lambda: create_model("googlenet_paper"), "torchvision", "torchvision has no model of googlenet_paper"),
        (lambda: create_model("inception_v4"), "torchvision", "inception_v4 goes to cadene, timm"),
        (lambda: create_model("inception_v4"), "keras", "choose one of cadene, facenet, timm, torchvision"),
        (lambda: create_model("inception_v4", small_input=True), "timm", "no counterpart of small_input=True"),
        (lambda: create_model("xception", norm_eps=1e-5), "timm", "no counterpart of norm_eps"),
        (lambda: create_model("inception_resnet_v1"), "facenet", "built with final_linear_block=True, embedding=True"),
    ],
)
def test_a_model_no_library_can_load_is_refused_before_writing(tmp_path, build, library, message):

    with pytest.raises(ValueError, match=message):
        save_weights(build(), tmp_path / "out.safetensors", to=library)
    assert not list(tmp_path.iterdir())


def test_timms_own_loader_takes_the_file(tmp_path):
    """timm's ``pretrained=True`` with ``pretrained_cfg_overlay(file=...)``: the way timm users load a file."""

    ours = randomize_batchnorm(create_model("inception_next_atto"))
    path = save_weights(ours, tmp_path / "atto_timm.safetensors", to="timm")
    reference = timm.create_model("inception_next_atto", pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert max_relative_error(ours(x), reference.eval()(x)) <= 1e-4
