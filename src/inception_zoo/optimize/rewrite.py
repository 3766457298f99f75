"""Rewrites that keep a trained network's outputs and make it cheaper to run.

- ``fold_affine_into_convs``: every per-channel affine that directly follows a conv (BatchNorm in
  eval mode, a layer scale, an Inception-ResNet residual scale) becomes part of that conv; a
  BatchNorm that follows no conv (InceptionNeXt's, after a concatenation) joins the unpadded conv
  after it instead.
- ``merge_sibling_1x1_convs``: the 1x1 convs that open several branches of one Inception module
  read the same input; one conv with their filters stacked does their work in one pass (the
  average-pool branch's 1x1 too, with the pool moved after it).
- ``onednn_convs``: each conv calls oneDNN directly (CPU, fp32), with its weights reordered once
  rather than at every call, and a ReLU or GELU right after it applied as it writes its output:
  one pass over memory instead of two.
- ``optimize_for_inference``: all three, on a copy, in eval mode, with channels_last memory format;
  elementwise steps (residual additions, biases) write into the tensor they read when nothing
  else reads it: on the CPU the page faults of a fresh output buffer can cost more than the
  arithmetic.

Each is exact up to float rounding (tested: max relative error <= 1e-4 on every registered network).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..layers import Branches, ConvNormAct, InceptionResidual, LayerScale, Residual, SplitBranches

__all__ = [
    "OneDnnConv",
    "fold_affine_into_convs",
    "merge_sibling_1x1_convs",
    "onednn_convs",
    "optimize_for_inference",
]


def _plain_conv(module: nn.Module) -> bool:
    return type(module) is nn.Conv2d and module.padding_mode == "zeros" and not isinstance(module.padding, str)


def _last_conv_slot(container: nn.Module, key: str) -> tuple[nn.Module, str] | None:
    """Where the conv sits whose output is ``container[key]``'s output: the module itself, or (past
    trailing Identities) the last child of a Sequential (SeparableConv2d is one) or of a ConvMlp."""
    from ..models.inception_next import ConvMlp

    module = container._modules[key]
    if _plain_conv(module):
        return container, key
    if isinstance(module, ConvMlp):
        return _last_conv_slot(module, "fc2")
    if isinstance(module, nn.Sequential):
        keys = [k for k, child in module._modules.items() if not isinstance(child, nn.Identity)]
        return _last_conv_slot(module, keys[-1]) if keys else None
    return None


def _starts_with_conv(module: nn.Module) -> nn.Conv2d | None:
    """The conv that first sees ``module``'s input: the module itself, or the first child of a
    Sequential or a ConvMlp."""
    from ..models.inception_next import ConvMlp

    if isinstance(module, nn.Conv2d):
        return module
    if isinstance(module, ConvMlp):
        return module.fc1
    if isinstance(module, nn.Sequential):
        return _starts_with_conv(module[0]) if len(module) else None
    return None


@torch.no_grad()
def _scale_conv_input(conv: nn.Conv2d, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """conv(x * scale + shift), as one conv (per input channel; exact only without padding)."""
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    bias = bias + (conv.weight * shift.view(1, -1, 1, 1)).sum(dim=(1, 2, 3))
    conv.weight.mul_(scale.view(1, -1, 1, 1))
    conv.bias = nn.Parameter(bias)


def _batch_norm_affine(norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with norm(x) = x * scale + shift per channel (eval mode)."""
    inv_std = torch.rsqrt(norm.running_var + norm.eps)
    gamma = norm.weight if norm.affine else torch.ones_like(inv_std)
    beta = norm.bias if norm.affine else torch.zeros_like(inv_std)
    return gamma * inv_std, beta - norm.running_mean * gamma * inv_std


@torch.no_grad()
def _scale_conv(conv: nn.Conv2d, scale: torch.Tensor, shift: torch.Tensor) -> None:
    """conv(x) * scale + shift, as one conv (per output channel)."""
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    bias = shift if conv.bias is None else conv.bias * scale + shift
    conv.bias = nn.Parameter(bias.to(conv.weight.dtype))


def fold_affine_into_convs(model: nn.Module) -> nn.Module:
    """Fold eval-mode BatchNorm, layer scales and residual scales into the convs before them (in place);
    a BatchNorm with no conv before it folds into an unpadded conv after it."""
    if model.training:
        raise ValueError("fold BatchNorm only in eval mode (call model.eval() first): training uses batch statistics")
    for module in list(model.modules()):
        if isinstance(module, InceptionResidual) and module.scale != 1.0:
            _scale_conv(
                module.project,
                torch.full_like(module.project.bias, module.scale),
                torch.zeros_like(module.project.bias),
            )
            module.scale = 1.0
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for i, name in enumerate(names):
            layer = module._modules[name]
            slot = _last_conv_slot(module, names[i - 1]) if i > 0 else None
            before = slot[0]._modules[slot[1]] if slot else None
            after = _starts_with_conv(module._modules[names[i + 1]]) if i + 1 < len(names) else None
            if isinstance(layer, nn.BatchNorm2d) and layer.track_running_stats:
                if before is not None:
                    _scale_conv(before, *_batch_norm_affine(layer))
                elif after is not None and after.groups == 1 and after.padding in (0, (0, 0)):
                    _scale_conv_input(after, *_batch_norm_affine(layer))
                else:
                    continue
            elif isinstance(layer, LayerScale) and before is not None:
                _scale_conv(before, layer.gamma.detach(), torch.zeros_like(layer.gamma))
            else:
                continue
            module._modules[name] = nn.Identity()
    return model


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


class OneDnnConv(nn.Module):
    """A conv, and the ReLU or GELU after it if any, as one oneDNN call on the CPU (fp32).

    The activation is applied as the conv writes its output instead of in a second pass over
    memory, and the weights are reordered into oneDNN's blocked layout once (at the first call)
    instead of at every call: at batch 1 the repeated reorder made convs with large weights 1.1-2.2x
    slower (InceptionNeXt's and Inception-ResNet's late 1x1 convs). Anywhere else (a GPU, another
    dtype, autograd) it runs the conv and the activation as before.
    """

    def __init__(self, conv: nn.Conv2d, act: nn.ReLU | nn.GELU | None = None):
        super().__init__()
        self.conv, self.act = conv, act or nn.Identity()
        if act is None:
            self.post_op = ("none", "")
        else:
            self.post_op = ("relu", "") if isinstance(act, nn.ReLU) else ("gelu", act.approximate)
        self._packed: tuple[tuple[int, int], torch.Tensor] | None = None  # ((weight address, version), packed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, weight = self.conv, self.conv.weight
        if x.device.type != "cpu" or x.dtype != torch.float32 or (torch.is_grad_enabled() and weight.requires_grad):
            return self.act(conv(x))
        key = (weight.data_ptr(), weight._version)  # repack after .to(), load_state_dict, in-place edits
        if self._packed is None or self._packed[0] != key:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                weight, conv.padding, conv.stride, conv.dilation, conv.groups, list(x.shape)
            )
            self._packed = (key, packed)
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._packed[1], conv.bias, conv.padding, conv.stride, conv.dilation, conv.groups,
            self.post_op[0], [], self.post_op[1],
        )  # fmt: skip

    def __getstate__(self) -> dict:  # the packed copy is opaque to copy and pickle; it is rebuilt on use
        return {**self.__dict__, "_packed": None}


def _fusable_activation(module: nn.Module) -> bool:
    return type(module) is nn.ReLU or (type(module) is nn.GELU and module.approximate in ("none", "tanh"))


def onednn_convs(model: nn.Module) -> nn.Module:
    """Every conv becomes a ``OneDnnConv`` (in place), taking in the ReLU or GELU that directly
    follows it: in a Sequential (past Identities left by folding), between an MLP's convs, or after
    a merged 1x1 conv with no pool branch."""
    from ..models.inception_next import ConvMlp

    for parent in list(model.modules()):
        if isinstance(parent, ConvMlp) and _fusable_activation(parent.act):
            parent.fc1, parent.act = OneDnnConv(parent.fc1, parent.act), nn.Identity()
        if isinstance(parent, MergedBranches) and not parent.pooled_sizes:  # else the act covers only part
            parent.conv, parent.act = OneDnnConv(parent.conv, parent.act), nn.Identity()
        if not isinstance(parent, nn.Sequential):
            continue
        keys = list(parent._modules)
        for i, key in enumerate(keys):
            if not _fusable_activation(parent._modules[key]):
                continue
            before = [k for k in keys[:i] if not isinstance(parent._modules[k], nn.Identity)]
            slot = _last_conv_slot(parent, before[-1]) if before else None
            if slot is not None:
                owner, name = slot
                owner._modules[name] = OneDnnConv(owner._modules[name], parent._modules[key])
                parent._modules[key] = nn.Identity()
    for parent in list(model.modules()):
        if not isinstance(parent, OneDnnConv):
            for name, child in parent.named_children():
                if _plain_conv(child):
                    parent._modules[name] = OneDnnConv(child)
    return model


def _onednn_available() -> bool:
    ops = ("_convolution_pointwise", "_reorder_convolution_weight")
    return torch.backends.mkldnn.is_available() and all(hasattr(torch.ops.mkldnn, op) for op in ops)


INFERENCE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def optimize_for_inference(model: nn.Module, *, compile: bool = False, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``model`` for inference, with the same outputs: affines folded into convs, sibling
    1x1 convs merged, each conv one oneDNN call with the activation after it (CPU, fp32),
    channels_last memory format (NCHW input is still accepted); ``compile=True`` adds
    ``torch.compile`` (inductor with freezing, which does the oneDNN part itself; on a GPU also
    CUDA graphs, each call's logits handed back as a copy that the next call cannot overwrite).

    ``dtype`` (``torch.bfloat16`` or ``torch.float16``) computes in that precision after folding
    in fp32; inputs are cast to it and the logits cast back to the input's dtype, so callers see
    no difference but the rounding (relative error about 1e-2 instead of 1e-6). It pays off on
    GPUs and on CPUs with native bf16 (AMX, AVX512-BF16); elsewhere it is slower than fp32.

    Example:
        >>> fast = optimize_for_inference(create_model("inception_v3", weights=True))
        >>> fast(images)  # same logits as the original, to float rounding
    """
    if dtype not in (None, *INFERENCE_DTYPES):
        raise ValueError(f"dtype must be one of {', '.join(map(str, INFERENCE_DTYPES))} (or None), got {dtype}")
    fast = copy.deepcopy(model).eval().requires_grad_(False)  # folded weights are for inference only
    fold_affine_into_convs(fast)
    merge_sibling_1x1_convs(fast)
    device_type = next(fast.parameters()).device.type
    if not compile and dtype in (None, torch.float32) and device_type == "cpu" and _onednn_available():
        onednn_convs(fast)  # under compile, inductor does this itself
    _elementwise_in_place(fast)
    fast = fast.to(memory_format=torch.channels_last)
    if dtype is None or dtype == torch.float32:
        fast.register_forward_pre_hook(_channels_last_input)
    else:
        fast = _ComputeIn(fast.to(dtype), dtype)
    if not compile:
        return fast
    # Freezing lets inductor treat the weights as constants (it applies under no_grad / inference_mode).
    on_gpu = device_type == "cuda"
    compiled = torch.compile(fast, options={"freezing": True, "triton.cudagraphs": on_gpu})
    return _OwnOutputs(compiled) if on_gpu else compiled


class _InPlaceGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten.gelu_(x)


class _InPlaceResidual(nn.Module):
    """``Residual``, adding the shortcut into the body's output (which is fresh unless it is ``x``)."""

    def __init__(self, residual: Residual):
        super().__init__()
        self.body, self.shortcut = residual.body, residual.shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        shortcut = x if self.shortcut is None else self.shortcut(x)
        if out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
            return out + shortcut
        return out.add_(shortcut)


def _elementwise_in_place(model: nn.Module) -> None:
    """Residual additions into the body's output; the GELU between an MLP's two convs over the first
    conv's output (nothing else reads either)."""
    from ..models.inception_next import ConvMlp

    for parent in list(model.modules()):
        if isinstance(parent, ConvMlp) and type(parent.act) is nn.GELU and parent.act.approximate == "none":
            parent.act = _InPlaceGELU()
        for name, child in list(parent.named_children()):
            if isinstance(child, Residual):
                setattr(parent, name, _InPlaceResidual(child))


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _channels_last_input(module: nn.Module, args: tuple) -> tuple:  # a named hook: the model stays picklable
    return _channels_last(args[0]), *args[1:]


class _Wrapper(nn.Module):
    """A module around ``model`` that still answers for the model's attributes (name, preprocessing, labels...)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["model"], name)


class _ComputeIn(_Wrapper):
    """Runs ``model`` in ``dtype`` and hands back logits in the caller's dtype."""

    def __init__(self, model: nn.Module, dtype: torch.dtype):
        super().__init__(model)
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(_channels_last(x.to(self.dtype))).to(x.dtype)


class _OwnOutputs(_Wrapper):
    """Hands out a copy of each output: under CUDA graphs the output lives in the graph's memory and
    the next call overwrites it, so logits kept from an earlier batch (a list of predictions, say)
    would otherwise be lost. The copy is the size of the logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).clone()
