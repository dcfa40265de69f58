"""Element-wise ops, reductions and casts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..node import Node
from .registry import Constants, Kernel, register

TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


def torch_dtype(name: str) -> torch.dtype:
    return TORCH_DTYPES[name]


def _floor_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.is_floating_point() or b.is_floating_point():
        return torch.floor(a / b)
    return torch.div(a, b, rounding_mode="floor")


def _real_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")  # TF's integer Div/RealDiv truncates


BINARY: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "Add": torch.add, "AddV2": torch.add, "Sub": torch.sub, "Mul": torch.mul,
    "RealDiv": _real_div, "Div": _real_div, "FloorDiv": _floor_div,
    "FloorMod": torch.remainder,  # the remainder has the divisor's sign, as TF's FloorMod
    "Maximum": torch.maximum, "Minimum": torch.minimum,
    "SquaredDifference": lambda a, b: (a - b) * (a - b),
    "Pow": torch.pow,
    "Equal": torch.eq, "NotEqual": torch.ne, "Less": torch.lt, "LessEqual": torch.le,
    "Greater": torch.gt, "GreaterEqual": torch.ge,
    "LogicalAnd": torch.logical_and, "LogicalOr": torch.logical_or,
}

UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "Identity": lambda x: x, "StopGradient": lambda x: x, "Snapshot": lambda x: x,
    "Relu": torch.relu, "Relu6": lambda x: torch.clamp(x, 0.0, 6.0), "Elu": F.elu,
    "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp, "Log": torch.log,
    "Abs": torch.abs, "Neg": torch.neg, "Sqrt": torch.sqrt, "Rsqrt": torch.rsqrt, "Square": torch.square,
    "Reciprocal": torch.reciprocal, "Floor": torch.floor, "Ceil": torch.ceil,
    "Round": torch.round,  # half to even, as TF's Round
    "LogicalNot": torch.logical_not,
}


def _binary(node: Node, consts: Constants) -> Kernel:
    fn = BINARY[node.op]
    return lambda xs: fn(xs[0], xs[1])


for _name in BINARY:
    register(_name)(_binary)


def _unary(node: Node, consts: Constants) -> Kernel:
    fn = UNARY[node.op]
    return lambda xs: fn(xs[0])


for _name in UNARY:
    register(_name)(_unary)


@register("_LavrHardSwish")  # made only by lavr.tfjs.fuse from MobileNetV3's four-op hard-swish
def hard_swish(node: Node, consts: Constants) -> Kernel:
    scale = node.attr_float("scale")  # 6 x the graph's own 1/6
    return lambda xs: F.hardswish(xs[0]).mul_(scale)


@register("IdentityN")
def identity_n(node: Node, consts: Constants) -> Kernel:
    return lambda xs: tuple(xs)


@register("AddN")
def add_n(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total

    return kernel


@register("LeakyRelu")
def leaky_relu(node: Node, consts: Constants) -> Kernel:
    alpha = node.attr_float("alpha", 0.2)
    return lambda xs: F.leaky_relu(xs[0], alpha)


@register("Prelu")
def prelu(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.where(xs[0] >= 0, xs[0], xs[0] * xs[1])


@register("Softmax")
def softmax(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.softmax(xs[0], dim=-1)


@register("Select", "SelectV2")
def select(node: Node, consts: Constants) -> Kernel:
    legacy = node.op == "Select"

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        cond, a, b = xs
        if legacy and cond.dim() == 1 and a.dim() > 1:
            # TF1's Select: a vector condition picks whole rows along the first dimension.
            cond = cond.reshape(-1, *([1] * (a.dim() - 1)))
        return torch.where(cond, a, b)

    return kernel


@register("Cast")
def cast(node: Node, consts: Constants) -> Kernel:
    target = torch_dtype(node.attr_dtype("DstT"))

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        if target == torch.bool:
            return x != 0
        return x.to(target)  # float -> int truncates toward zero, as TF's Cast

    return kernel


# torch's reductions are overloaded builtins that mypy cannot type as one Callable; they all take (x, dim=, keepdim=)
REDUCE: dict[str, Callable[..., torch.Tensor]] = {"Mean": torch.mean, "Sum": torch.sum, "Prod": torch.prod}
EXTREME: dict[str, Callable[..., torch.Tensor]] = {"Max": torch.amax, "Min": torch.amin, "Any": torch.any,
                                                   "All": torch.all}


@register("Mean", "Sum", "Prod", "Max", "Min", "Any", "All")
def reduce(node: Node, consts: Constants) -> Kernel:
    keep = node.attr_bool("keep_dims", False)
    op = node.op

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        axes = sorted({a % max(x.dim(), 1) for a in xs[1].reshape(-1).tolist()})
        if not axes:
            return x
        if op in REDUCE:
            if op == "Mean" and not x.is_floating_point():
                return torch.div(x.sum(dim=axes, keepdim=keep), _count(x, axes), rounding_mode="trunc")
            if op == "Prod":
                for a in reversed(axes):
                    x = torch.prod(x, dim=a, keepdim=keep)
                return x
            return REDUCE[op](x, dim=axes, keepdim=keep)
        fn = EXTREME[op]
        if op in ("Any", "All"):
            for a in reversed(axes):
                x = fn(x, dim=a, keepdim=keep)
            return x
        return fn(x, dim=axes, keepdim=keep)

    return kernel


def _count(x: torch.Tensor, axes: list[int]) -> int:
    count = 1
    for a in axes:
        count *= x.shape[a]
    return count

