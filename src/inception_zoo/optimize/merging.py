"""Merging sibling 1x1 convs: the 1x1 convs that open several branches of one Inception module read
the same input, so one conv with their filters stacked does their work in one pass (the
average-pool branch's 1x1 too, with the pool moved after it). Run after folding. Exact up to
float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Branches, ConvNormAct, InceptionResidual, SplitBranches

__all__ = ["MergedBranches", "MergedResidual", "merge_sibling_1x1_convs"]


class MergedBranches(nn.Module):
    """An Inception module whose opening 1x1 convs run as one conv; the rest of each branch as before.

    A branch that opens with a 3x3/1 average pool and then a 1x1 conv joins too: both are linear,
    so the pool can follow the bias-free conv (and pools fewer channels there); the bias is added
    after the pool, which keeps it exact at the borders whether or not the pool counts padding.
    """

    def __init__(self, module: Branches, merged: list[int], pooled: list[int] = ()):
        super().__init__()
        plain = [module.branches[i][0].conv for i in merged]
        after_pool = [module.branches[i][1].conv for i in pooled]
        convs = plain + after_pool
        self.conv = nn.Conv2d(convs[0].in_channels, sum(c.out_channels for c in convs), 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat([c.weight for c in convs]))
            self.conv.bias.copy_(torch.cat([c.bias for c in plain] + [torch.zeros_like(c.bias) for c in after_pool]))
        self.pools = nn.ModuleList(module.branches[i][0] for i in pooled)
        self.pool_biases = nn.ParameterList(nn.Parameter(c.bias.detach().view(1, -1, 1, 1)) for c in after_pool)
        self.act = nn.ReLU(inplace=True)
        self.plain_channels = sum(c.out_channels for c in plain)
        self.split_sizes = [c.out_channels for c in plain]
        self.pooled_sizes = [c.out_channels for c in after_pool]
        self.merged = [*merged, *pooled]
        # After the opening conv (and pool): the rest of each merged branch; the other branches whole.
        self.rests = nn.ModuleList(
            [*(module.branches[i][1:] for i in merged), *(module.branches[i][2:] for i in pooled)]
        )
        self.others = nn.ModuleDict({str(i): b for i, b in enumerate(module.branches) if i not in self.merged})
        self.order = list(range(len(module.branches)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        opened = self.conv(x)
        plain, to_pool = opened[:, : self.plain_channels], opened[:, self.plain_channels :]
        heads = list(torch.split(self.act(plain), self.split_sizes, dim=1)) if self.split_sizes else []
        for pool, bias, y in zip(self.pools, self.pool_biases, torch.split(to_pool, self.pooled_sizes, dim=1),
                                 strict=True):  # fmt: skip
            heads.append(self.act(pool(y).add_(bias)))
        outputs: dict[int, torch.Tensor] = {
            i: rest(y) for i, rest, y in zip(self.merged, self.rests, heads, strict=True)
        }
        for i, branch in self.others.items():
            outputs[int(i)] = branch(x)
        return torch.cat([outputs[i] for i in self.order], dim=1)


def _opens_with_folded_1x1(branch: nn.Sequential) -> bool:
    first = branch[0]
    if not isinstance(first, ConvNormAct) or not isinstance(getattr(first, "bn", nn.Identity()), nn.Identity):
        return False
    conv = first.conv
    return conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.groups == 1 and conv.bias is not None


def _opens_with_avg_pool_then_folded_1x1(branch: nn.Sequential) -> bool:
    pool = branch[0]
    return (
        len(branch) >= 2
        and type(pool) is nn.AvgPool2d
        and pool.stride in (1, (1, 1))
        and _opens_with_folded_1x1(branch[1:])
    )


class MergedResidual(nn.Module):
    """An Inception-ResNet block whose branches run as ``MergedBranches``."""

    def __init__(self, block: InceptionResidual, merged: list[int], pooled: list[int] = ()):
        super().__init__()
        self.branches = MergedBranches(block, merged, pooled)
        self.project, self.scale, self.act = block.project, block.scale, block.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.branches(x))  # a fresh tensor: add to it in place
        if self.scale != 1.0:
            out.mul_(self.scale)
        return self.act(out.add_(x))


def merge_sibling_1x1_convs(model: nn.Module) -> nn.Module:
    """Run the opening 1x1 convs of each Inception module's branches as one conv (in place; after folding)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, Branches) or isinstance(child, SplitBranches):
                continue
            merged = [i for i, b in enumerate(child.branches) if _opens_with_folded_1x1(b)]
            pooled = [i for i, b in enumerate(child.branches) if _opens_with_avg_pool_then_folded_1x1(b)]
            if len(merged) + len(pooled) >= 2:
                rewritten = MergedResidual if isinstance(child, InceptionResidual) else MergedBranches
                setattr(parent, name, rewritten(child, merged, pooled))
    return model
