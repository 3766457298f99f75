"""The building blocks every Inception network is made of, each defined once.

Models compose these and nothing else, so that tools (parameter counts, converters, later
BN folding, sibling-conv merging, feature extraction and diagrams) can walk any member of the
family the same way:

- ``ConvNormAct``: conv -> BatchNorm -> ReLU, the unit of every branch.
- ``SeparableConv2d``: depthwise then pointwise conv (Xception).
- ``Branches``: parallel branches over one input, concatenated on channels (an Inception module).
- ``InceptionResidual``: branches, a linear 1x1 projection, a scale, a residual add, an activation.
- ``Residual``: a body plus a shortcut (identity or a strided projection).
- ``SplitBranches``: one branch per channel group, concatenated (InceptionNeXt's token mixer).
- ``ConvMlp``: 1x1 conv, GELU, 1x1 conv (the channel MLP of a MetaNeXt block).
- ``tf_slim_stem``: the first six layers of TF-slim's Inception-v3 and Inception-ResNets.
- ``ClassifierHead``: global average pool, dropout, linear; ``MlpClassifierHead`` adds a hidden layer;
  ``EmbeddingHead`` is FaceNet's embedding head.
- ``GoogLeNetAux`` and ``InceptionV3Aux``: the side classifiers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ArgumentError

__all__ = [
    "AvgPoolClipped",
    "Branches",
    "ClassifierHead",
    "ConvMlp",
    "ConvNormAct",
    "EmbeddingHead",
    "POOLS",
    "global_pool",
    "ConvFactory",
    "GoogLeNetAux",
    "InceptionResidual",
    "InceptionV3Aux",
    "LayerScale",
    "MlpClassifierHead",
    "Residual",
    "SeparableConv2d",
    "SplitBranches",
    "classifier",
    "avg_pool_3x3",
    "same_padding",
    "split_1x3_3x1",
    "tf_slim_stem",
]

ConvFactory = Callable[..., nn.Module]


def classifier(in_features: int, num_classes: int) -> nn.Module:
    """The last linear layer of a head; ``num_classes=0`` keeps the features (an identity)."""
    return nn.Linear(in_features, num_classes) if num_classes > 0 else nn.Identity()


def same_padding(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    """Symmetric padding that keeps the size of a stride-1 conv with an odd kernel."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return kh // 2, kw // 2


class ConvNormAct(nn.Sequential):
    """Conv -> BatchNorm -> ReLU, the unit every branch is made of.

    ``norm_eps`` is the network's policy, injected by the model: 1e-3 for networks whose
    weights come from TensorFlow, 1e-5 for Caffe/PyTorch-trained ones, and ``None`` for the
    pre-BatchNorm networks. The conv has a bias only without BatchNorm, unless ``bias`` says
    otherwise (Caffe's BN-Inception has both). ``padding="same"`` keeps the size of a stride-1
    conv; the default 0 is TensorFlow's VALID. ``act=False`` stops after the norm (a linear
    shortcut).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] | str = 0,
        *,
        norm_eps: float | None = 1e-3,
        groups: int = 1,
        bias: bool | None = None,
        act: bool = True,
    ) -> None:
        super().__init__()
        if padding == "same":
            padding = same_padding(kernel_size)
        bias = norm_eps is None if bias is None else bias
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, padding, groups=groups, bias=bias)
        if norm_eps is not None:
            self.bn = nn.BatchNorm2d(out_chs, eps=norm_eps)
        if act:
            self.act = nn.ReLU(inplace=True)


class SeparableConv2d(nn.Sequential):
    """A depthwise conv (one filter per channel) then a pointwise 1x1 conv, no norm between:
    Xception's "depthwise separable convolution" (defined in section 1.2 of its paper). No
    activation between the two either: section 4.7 found none trains faster and ends better."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1, padding: int = 1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_chs, in_chs, kernel_size, stride, padding, groups=in_chs, bias=False)
        self.pointwise = nn.Conv2d(in_chs, out_chs, 1, bias=False)


def tf_slim_stem(in_chans: int, conv: ConvFactory) -> OrderedDict[str, nn.Module]:
    """TF-slim's first six layers, shared by Inception-v3 and both Inception-ResNets: 299x299 -> 71x71x192."""
    return OrderedDict(
        Conv2d_1a_3x3=conv(in_chans, 32, 3, stride=2),
        Conv2d_2a_3x3=conv(32, 32, 3),
        Conv2d_2b_3x3=conv(32, 64, 3, padding="same"),
        MaxPool_3a_3x3=nn.MaxPool2d(3, stride=2),
        Conv2d_3b_1x1=conv(64, 80, 1),
        Conv2d_4a_3x3=conv(80, 192, 3),
    )


class Branches(nn.Module):
    """Parallel branches over one input, concatenated along channels: an Inception module.

    Each branch is an ``nn.Sequential``. A branch that splits in two (Inception-v3's 1x3 | 3x1
    pair) ends in a nested ``Branches``.
    """

    def __init__(self, *branches: nn.Module) -> None:
        super().__init__()
        self.branches = nn.ModuleList(b if type(b) is nn.Sequential else nn.Sequential(b) for b in branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class SplitBranches(Branches):
    """Channel groups, one branch each, concatenated: InceptionNeXt's Inception depthwise conv.

    Unlike ``Branches`` (every branch reads the whole input), branch i reads the i-th group of
    ``split_sizes`` channels; ``nn.Identity`` passes its group through.
    """

    def __init__(self, split_sizes: tuple[int, ...], *branches: nn.Module) -> None:
        super().__init__(*branches)
        if len(split_sizes) != len(branches):
            raise ValueError(f"{len(branches)} branches need {len(branches)} split sizes, got {split_sizes}")
        self.split_sizes = tuple(split_sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.split(x, self.split_sizes, dim=1)  # indexed, not iterated: torch.fx can trace that
        return torch.cat([branch(groups[i]) for i, branch in enumerate(self.branches)], dim=1)

    def extra_repr(self) -> str:
        return f"split_sizes={self.split_sizes}"


class ConvMlp(nn.Module):
    """1x1 conv -> GELU -> 1x1 conv: the channel MLP of a MetaNeXt block (InceptionNeXt)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    """Per-channel learnt scale of a residual branch (CaiT; InceptionNeXt, ConvNeXt)."""

    def __init__(self, channels: int, init_value: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), init_value))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1)


def split_1x3_3x1(in_chs: int, out_chs: int, conv: ConvFactory) -> Branches:
    """A 1x3 conv and a 3x1 conv side by side: the expanded filter bank of the 8x8 modules."""
    return Branches(conv(in_chs, out_chs, (1, 3), padding="same"), conv(in_chs, out_chs, (3, 1), padding="same"))


def avg_pool_3x3(count_include_pad: bool = False) -> nn.AvgPool2d:
    """The 3x3/1 average pool of the pooling branches. TensorFlow's SAME pooling does not count
    the padding (``count_include_pad=False``); PyTorch's default does."""
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=count_include_pad)


class InceptionResidual(Branches):
    """``act(x + scale * project(concat(branches(x))))``: the Inception-ResNet block.

    ``project`` is a linear 1x1 conv with a bias and no normalisation, which restores the
    input's width. ``scale`` damps the residual (Inception-v4 paper, section 3.3).
    """

    def __init__(self, *branches: nn.Module, concat_chs: int, out_chs: int, scale: float, act: bool = True):
        super().__init__(*branches)
        self.project = nn.Conv2d(concat_chs, out_chs, kernel_size=1, bias=True)
        self.scale = scale
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.scale * self.project(super().forward(x)))

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class Residual(nn.Module):
    """``body(x) + shortcut(x)``; no shortcut module means the identity (Xception, InceptionNeXt)."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


POOLS = ("avg", "max", "")  # global pooling of a head, timm's names ("": none, the feature map itself)


def global_pool(x: torch.Tensor, pool: str) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, C)`` by ``pool`` ("avg" or "max"); ``""`` leaves the map."""
    if pool == "avg":
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    if pool == "max":
        return torch.flatten(F.adaptive_max_pool2d(x, 1), 1)
    return x


def _check_pool(pool: str, num_classes: int, *, unpooled: bool = True) -> str:
    if pool not in POOLS:
        raise ArgumentError(f"global_pool must be one of {POOLS}, got {pool!r}")
    if pool == "" and (num_classes or not unpooled):
        reason = "a classifier needs pooled features" if num_classes else "this head's layers need pooled features"
        raise ArgumentError(f"global_pool='' (no pooling) works only with no classifier and no hidden layers: {reason}")
    return pool


class ClassifierHead(nn.Module):
    """Global pool (average) -> dropout -> linear. ``num_classes=0`` leaves the pooled features, and
    ``pool=""`` with no classes the feature map itself (timm's ``reset_classifier(0, "")``)."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0, pool: str = "avg") -> None:
        super().__init__()
        self.in_features = self.hidden_features = in_features
        self.pool = _check_pool(pool, num_classes)
        self.drop = nn.Dropout(drop_rate)
        self.fc = classifier(in_features, num_classes)

    def reset(self, num_classes: int, pool: str | None = None, reset_other: bool = False, in_features=None) -> None:
        """A new classifier for ``num_classes``; ``pool``/``in_features`` change those (``reset_other``: no hidden
        layers to drop here)."""
        self.pool = _check_pool(self.pool if pool is None else pool, num_classes)
        if in_features is not None:
            self.in_features = self.hidden_features = in_features
        self.fc = classifier(self.in_features, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(global_pool(x, self.pool))
        return x if pre_logits else self.fc(x)

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"


class MlpClassifierHead(nn.Module):
    """Global pool (average) -> linear (x ``mlp_ratio``) -> GELU -> LayerNorm -> dropout -> linear.

    The MetaFormer head that InceptionNeXt uses; ``pre_logits`` gives the hidden features. Its MLP
    needs pooled features (timm refuses ``pool=""`` too); ``reset(..., reset_other=True)`` drops it.
    """

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0, mlp_ratio: float = 3.0):
        super().__init__()
        self.in_features = in_features
        self.hidden_features = int(mlp_ratio * in_features)
        self.pool = "avg"
        self.fc1 = nn.Linear(in_features, self.hidden_features)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(self.hidden_features, eps=1e-6)
        self.drop = nn.Dropout(drop_rate)
        self.fc = classifier(self.hidden_features, num_classes)

    def reset(self, num_classes: int, pool: str | None = None, reset_other: bool = False, in_features=None) -> None:
        if reset_other:  # the pooled features straight to the classifier
            self.fc1, self.act, self.norm = nn.Identity(), nn.Identity(), nn.Identity()
        mlp = not isinstance(self.fc1, nn.Identity)
        self.pool = _check_pool(self.pool if pool is None else pool, num_classes, unpooled=not mlp)
        if in_features is not None and in_features != self.in_features:
            if mlp:
                raise ArgumentError("the head's MLP is sized for its input: drop it (reset_other=True) to change that")
            self.in_features = in_features
        if not mlp:
            self.hidden_features = self.in_features
        self.fc = classifier(self.hidden_features, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.norm(self.act(self.fc1(global_pool(x, self.pool)))))
        return x if pre_logits else self.fc(x)


class EmbeddingHead(nn.Module):
    """Global pool (average) -> dropout -> linear (no bias) -> BatchNorm1d -> logits, or the
    L2-normalised embedding when ``num_classes=0``: FaceNet's head (facenet-pytorch's layout)."""

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.6, embedding_size: int = 512):
        super().__init__()
        self.in_features, self.hidden_features = in_features, embedding_size
        self.pool = "avg"
        self.drop = nn.Dropout(drop_rate)
        self.project = nn.Linear(in_features, embedding_size, bias=False)
        self.bn = nn.BatchNorm1d(embedding_size, eps=1e-3)
        self.fc = classifier(embedding_size, num_classes)

    def reset(self, num_classes: int, pool: str | None = None, reset_other: bool = False, in_features=None) -> None:
        if reset_other:  # no embedding layers: the pooled features straight to the classifier
            self.project, self.bn = nn.Identity(), nn.Identity()
        embeds = not isinstance(self.project, nn.Identity)
        self.pool = _check_pool(self.pool if pool is None else pool, num_classes, unpooled=not embeds)
        if in_features is not None and in_features != self.in_features:
            if embeds:
                raise ArgumentError("the embedding layer is sized for its input: drop it (reset_other=True) first")
            self.in_features = in_features
        if not embeds:
            self.hidden_features = self.in_features
        self.fc = classifier(self.hidden_features, num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.bn(self.project(self.drop(global_pool(x, self.pool))))
        if pre_logits:
            return x
        return F.normalize(x, p=2, dim=1) if isinstance(self.fc, nn.Identity) else self.fc(x)


class AvgPoolClipped(nn.Module):
    """Average pooling whose window shrinks to the map when the map is smaller than it.

    Equal to ``nn.AvgPool2d`` at the papers' sizes; lets the side heads run on every input
    size the trunk accepts.
    """

    def __init__(self, kernel_size: int, stride: int, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.ceil_mode = kernel_size, stride, ceil_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = (min(self.kernel_size, x.shape[-2]), min(self.kernel_size, x.shape[-1]))
        return F.avg_pool2d(x, kernel, self.stride, ceil_mode=self.ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, ceil_mode={self.ceil_mode}"


class GoogLeNetAux(nn.Module):
    """GoogLeNet's side classifier: pool to 4x4, 1x1 conv 128, fc 1024, dropout 0.7, linear."""

    def __init__(self, in_chs: int, num_classes: int, *, pool: nn.Module, conv: ConvFactory, drop_rate=0.7):
        super().__init__()
        self.pool = pool
        self.conv = conv(in_chs, 128, 1)
        self.hidden = nn.Linear(128 * 4 * 4, 1024)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(drop_rate)
        self.fc = classifier(1024, num_classes)

    def reset(self, num_classes: int) -> None:
        self.fc = classifier(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc(self.drop(self.act(self.hidden(x))))


class InceptionV3Aux(nn.Module):
    """Inception-v3's side classifier: avg-pool 5x5/3, 1x1 conv 128, 5x5 conv 768, linear."""

    def __init__(self, in_chs: int, num_classes: int, *, conv: ConvFactory) -> None:
        super().__init__()
        self.pool = AvgPoolClipped(5, 3)
        self.conv0 = conv(in_chs, 128, 1)
        self.conv1 = conv(128, 768, 5)
        self.fc = classifier(768, num_classes)

    def reset(self, num_classes: int) -> None:
        self.fc = classifier(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv0(self.pool(x))
        # NOTE: below the paper's sizes the pooled map is smaller than the 5x5 kernel; pad it
        # with zeros (TensorFlow's SAME) rather than fail. A no-op at 299x299 and above.
        pad_h, pad_w = max(0, 5 - x.shape[-2]), max(0, 5 - x.shape[-1])
        if pad_h or pad_w:
            x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        x = torch.flatten(F.adaptive_avg_pool2d(self.conv1(x), 1), 1)
        return self.fc(x)
