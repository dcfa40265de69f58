"""The op registry: one builder per TF op name.

A builder sees the node once, at load time, with the constant values of its inputs (weights, folded shape
arithmetic); it checks the node's attributes (refusing values it does not run with ``UnsupportedOp``), prepares
what it can (e.g. a conv filter in torch's layout) and returns a kernel: a function from the input tensors to the
output tensor, or a tuple of tensors for multi-output ops.

Tensors are torch tensors in TF's layout (NHWC for images): float32, int64 (every TF integer type) or bool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from ..node import Node, Ref

Output = torch.Tensor | tuple[torch.Tensor, ...]
Kernel = Callable[[Sequence[torch.Tensor]], Output]


class Constants(Protocol):
    """The values of a node's inputs that are known at load time."""

    def value(self, ref: Ref) -> torch.Tensor | None: ...


Builder = Callable[[Node, Constants], Kernel]
OPS: dict[str, Builder] = {}


def register(*names: str) -> Callable[[Builder], Builder]:
    """Register a builder under one or more TF op names."""

    def decorate(builder: Builder) -> Builder:
        for name in names:
            if name in OPS:
                raise RuntimeError(f"op {name} registered twice")
            OPS[name] = builder
        return builder

    return decorate


def const_input(node: Node, consts: Constants, position: int, what: str) -> torch.Tensor:
    """The load-time value of input ``position``; refused when it is computed at run time."""
    value = consts.value(node.inputs[position]) if position < len(node.inputs) else None
    if value is None:
        raise node.unsupported(what, f"a {what} computed at run time", f"a constant {what}")
    return value

