"""Figures drawn from the code: what they say (read from the figures' own text objects), the errors, the
command, byte-for-byte files, and docs/gallery.md with docs/figures/ kept current (`make figures`)."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from inception_zoo import diagram, list_models
from inception_zoo.cli import main
from inception_zoo.diagrams import describe_module, describe_network
from inception_zoo.diagrams.structure import Chain, Layer, Parallel, Sum
from inception_zoo.errors import ArgumentError, MissingExtra
from inception_zoo.summary import stage_shapes

DOCS = Path(__file__).parents[1] / "docs"


def texts(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].texts]


def test_a_module_figure_has_its_branches_kernels_and_shapes():
    """Inception-v3's Mixed_6b (Fig. 6 with n = 7): four branches, factorised 7x7 convs, 768x17x17 in and out."""
    module = describe_module("inception_v3", "Mixed_6b")
    assert isinstance(module.body, Parallel) and len(module.body.branches) == 4
    words = texts(diagram("inception_v3", block="Mixed_6b"))
    assert words[0] == "Inception-C"
    assert words.count("768x17x17") == 2  # input and output
    assert words.count("1x7 conv, 128") == 2 and words.count("7x1 conv, 128") == 2
    assert {"7x1 conv, 192", "1x7 conv, 192", "3x3 avg pool", "concat"} <= set(words)
    assert words.count("192x17x17") == 4  # each branch's output, where it enters the concatenation
    assert "stride 1 · same" in words and "BN · ReLU" in words


def test_nested_branches_and_a_max_pool_branch():
    """Mixed_7c: the expanded filter bank (1x3 | 3x1) inside two branches; the FID network's pools max-pool."""
    words = texts(diagram("inception_v3", block="Mixed_7c"))
    assert words.count("1x3 conv, 384") == 2 and words.count("3x1 conv, 384") == 2 and words.count("concat") == 3
    assert words.count("768x8x8") == 2 and "2048x8x8" in words
    fid = texts(diagram("fid_inception_v3", block="Mixed_7c"))
    assert "3x3 max pool" in fid and "3x3 avg pool" not in fid
    assert "stride 1 · same · padding not counted" not in fid
    assert "padding not counted" in texts(diagram("fid_inception_v3", block="Mixed_5b"))


def test_a_residual_block_has_its_scale_the_add_and_the_activation_after_it():
    module = describe_module("inception_resnet_v2", "block35_1")
    residual, act = module.body.steps
    assert isinstance(residual, Sum) and residual.shortcut is None and act == Layer("act", "ReLU")
    words = texts(diagram("inception_resnet_v2", block="block35_1"))
    assert words.index("concat") < words.index("1x1 conv, 320") < words.index("scale ×0.17") < words.index("add")
    assert words.index("add") < words.index("ReLU") and "identity" in words
    assert words.count("320x35x35") == 2
    last = texts(diagram("inception_resnet_v2", block="block8_10"))  # TF-slim's final linear block
    assert "scale ×1" in last and "ReLU" not in last and "add" in last


def test_separable_convs_and_a_projection_shortcut():
    """Xception: a depthwise 3x3 then a pointwise 1x1, ReLU first; the strided blocks add a 1x1/2 projection."""
    words = texts(diagram("xception", block="block5"))
    assert words.count("3x3 depthwise conv, 728") == 3 and words.count("1x1 conv, 728") == 3
    # Each ReLU after the first follows a BN, and is drawn in that conv's box.
    assert words.count("ReLU") == 1 and words.count("BN · ReLU") == 2 and words.count("BN") == 1
    assert "identity" in words and "add" in words
    entry = describe_module("xception", "block2")
    assert isinstance(entry.body, Sum) and entry.body.shortcut == Layer(
        "conv", "1x1 conv, 256", ("stride 2 · valid",), ("BN",)
    )
    aligned = texts(diagram("xception65", block="block3"))  # DeepLab's: BN + ReLU inside, a strided separable conv
    assert "3x3 depthwise conv, 256" in aligned and "stride 2 · pad 1" in aligned and "BN" in aligned


def test_channel_groups_of_inception_next():
    module = describe_module("inception_next_tiny", "stage3.blocks.0")
    split = module.body.body.steps[0]
    assert isinstance(split, Parallel) and split.split.details == ("240 | 48 | 48 | 48",)
    words = texts(diagram("inception_next_tiny", block="stage3.blocks.0"))
    assert {"identity", "3x3 depthwise conv, 48", "1x11 depthwise conv, 48", "11x1 depthwise conv, 48"} <= set(words)
    assert {"split channels", "layer scale", "add", "bias · GELU"} <= set(words)


def test_a_network_figure_collapses_repeats_and_gives_each_stage_its_shape():
    """Inception-v4 as Fig. 9 of its paper draws it: the stem, 4 x Inception-A, Reduction-A, 7 x Inception-B, ..."""
    network = describe_network("inception_v4")
    rows = [(stage.module.title, len(stage.layers)) for stage in network.stages if not stage.stem]
    assert rows == [("Inception-A", 4), ("Reduction-A", 1), ("Inception-B", 7), ("Reduction-B", 1), ("Inception-C", 3)]
    words = texts(diagram("inception_v4"))
    assert {"Inception-A ×4", "Inception-B ×7", "Inception-C ×3", "Mixed_6b … Mixed_6h", "stem"} <= set(words)
    assert {"384x35x35", "1024x17x17", "1536x8x8", "3x299x299", "fc, 1000"} <= set(words)
    assert words.index("Mixed3a") < words.index("Inception-A ×4") < words.index("Reduction-A")


@pytest.mark.parametrize("name", ["inception_v3", "googlenet_paper", "xception41_cifar", "inception_next_atto"])
def test_the_rows_shapes_are_those_of_a_forward_pass(name):
    """Every layer of ``features`` is in a row, in order, and each row ends at the shape ``info`` reports."""
    shapes = dict(stage_shapes(name))
    network = describe_network(name)
    top = [layer.split(".")[0] for layer in network.layers]
    assert list(dict.fromkeys(top)) == [layer for layer in shapes if layer not in ("head",) and "." not in layer]
    for stage in network.stages:
        if "." not in stage.layers[-1]:
            assert (1, *stage.module.output) == shapes[stage.layers[-1]]
    assert (1, *network.output) == shapes["head"]


def test_side_classifiers_are_marked_where_they_read():
    marked = [stage.layers[-1] for stage in describe_network("googlenet").stages if stage.side_classifier]
    assert marked == ["inception4a", "inception4d"]
    assert texts(diagram("googlenet")).count("side classifier") == 2
    assert not any(stage.side_classifier for stage in describe_network("inception_v4").stages)


def test_every_network_is_described_by_one_walker():
    """No box of any registered network is one the walker could not read, but for BN-Inception's odd-size pool."""
    unknown = set()
    for name in list_models():
        network = describe_network(name)
        assert network.stages and network.output
        for stage in network.stages:
            unknown |= {layer.title for layer in _layers(stage.module.body) if layer.kind == "other"}
    assert unknown <= {"MaxPoolEvenOdd"}, unknown


def _layers(node):
    if isinstance(node, Layer):
        yield node
    elif isinstance(node, Chain):
        for step in node.steps:
            yield from _layers(step)
    elif isinstance(node, Parallel):
        for branch in node.branches:
            yield from _layers(branch)
    elif isinstance(node, Sum):
        yield from _layers(node.body)
        if node.shortcut:
            yield from _layers(node.shortcut)


def test_an_unknown_block_lists_the_layers():
    with pytest.raises(ArgumentError, match="did you mean Mixed_6b") as raised:
        describe_module("inception_v3", "Mixed_6bb")
    assert raised.value.option == "block" and "Conv2d_1a_3x3, " in str(raised.value) and "Mixed_7c" in str(raised.value)


def test_errors_on_the_command_line_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, code, message in [
        (["diagram", "inception_v3", "--block", "Mixed_9z"], 2, "--block 'Mixed_9z' is not a layer of inception_v3"),
        (["diagram", "inceptoin_v3"], 2, "unknown model 'inceptoin_v3'; did you mean inception_v3"),
        (["diagram", "inception_v3", "-o", "figure.jpg"], 2, "--output must end in .svg, .png or .pdf"),
    ]:
        assert main(argv) == code
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, err
    assert not list(tmp_path.iterdir())


def test_the_command_writes_each_format(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["diagram", "googlenet", "--block", "inception3a"]) == 0
    assert "googlenet.inception3a.svg" in capsys.readouterr().out
    assert (tmp_path / "googlenet.inception3a.svg").read_bytes().startswith(b"<?xml")
    assert main(["diagram", "googlenet", "-o", "net.png"]) == 0
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["diagram", "googlenet", "--block", "inception3a", "--output", "m.pdf"]) == 0
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")


def test_the_same_figure_is_the_same_bytes(tmp_path):
    for suffix in (".svg", ".pdf"):
        first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
        diagram("inception_resnet_v2", block="Mixed_7a", output=first)
        diagram("inception_resnet_v2", block="Mixed_7a", output=second)
        assert first.read_bytes() == second.read_bytes()
    assert b"<dc:date>" not in (tmp_path / "a.svg").read_bytes()


def test_without_matplotlib_the_figures_name_their_extra(monkeypatch, capsys, tmp_path):
    """The structure needs no matplotlib; drawing says which extra to install, in one line."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for name in ("inception_zoo.diagrams.layout", "inception_zoo.diagrams.render"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert describe_network("inception_v3").stages
    with pytest.raises(MissingExtra, match=r"needs the 'diagram' extra .*pip install 'inception-zoo\[diagram\]'"):
        importlib.import_module("inception_zoo.diagrams.render")
    monkeypatch.chdir(tmp_path)
    assert main(["diagram", "inception_v3"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'inception-zoo[diagram]'" in err and "matplotlib" in err, err
    assert not list(tmp_path.iterdir())


# -- the gallery: docs/gallery.md and docs/figures/ ---------------------------------------------------


def test_the_gallery_is_current():
    """Every registered network has its figure and every distinct module one; after a change to a model or to
    the figures' code, run `make figures`."""
    from inception_zoo.diagrams.gallery import gallery, stale_figures

    problems = stale_figures(DOCS)
    assert not problems, "docs/figures is stale (run `make figures`): " + "; ".join(problems[:10])
    drawn = gallery()
    assert sorted(network.name for network, _ in drawn.networks) == list_models()
    page = (DOCS / "gallery.md").read_text()
    for figure in drawn.figures:
        assert f"](figures/{figure.file})" in page
    shared = next(f for f in drawn.figures if f.title == "inception_v4 Mixed_5b: Inception-A")
    assert shared.used_by == [("inception_v4", ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_5e"))]


def test_a_stale_gallery_is_found(tmp_path):
    """An edited, a missing or an extra figure, a figure the code now draws differently, an edited page."""
    from inception_zoo.diagrams.gallery import stale_figures

    docs = tmp_path / "docs"
    shutil.copytree(DOCS / "figures", docs / "figures")
    shutil.copy(DOCS / "gallery.md", docs / "gallery.md")
    figures = docs / "figures"
    (figures / "inception_v4.svg").write_text((figures / "inception_v4.svg").read_text().replace("×7", "×8"))
    (figures / "xception.svg").unlink()
    (figures / "old.svg").write_text("<svg/>")
    manifest = json.loads((figures / "manifest.json").read_text())
    manifest["figures"]["googlenet.svg"]["drawing"] = "0" * 64  # as if drawn from other code
    (figures / "manifest.json").write_text(json.dumps(manifest))
    (docs / "gallery.md").write_text((docs / "gallery.md").read_text() + "edited\n")
    assert sorted(stale_figures(docs)) == [
        "gallery.md: out of date",
        "googlenet.svg: the code draws it differently now",
        "inception_v4.svg: edited since it was drawn",
        "old.svg: no longer drawn",
        "xception.svg: missing",
    ]


def test_a_committed_figure_is_what_the_painter_writes_now(tmp_path):
    """The manifest's file hashes are of what this code writes (same matplotlib as the one that drew them)."""
    import matplotlib

    from inception_zoo.diagrams.gallery import gallery
    from inception_zoo.diagrams.render import draw, save_figure

    manifest = json.loads((DOCS / "figures" / "manifest.json").read_text())
    if manifest["matplotlib"] != matplotlib.__version__:
        pytest.skip(f"figures drawn with matplotlib {manifest['matplotlib']}, this is {matplotlib.__version__}")
    figure = next(f for f in gallery().figures if f.file == "inception_v3.Mixed_6b.svg")
    save_figure(draw(figure.drawing), tmp_path / figure.file)
    assert (tmp_path / figure.file).read_bytes() == (DOCS / "figures" / figure.file).read_bytes()
