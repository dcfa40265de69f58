"""Shapes, slicing, gathering and selection: the ops of the models' box decoding (TopK, GatherV2, StridedSlice,
SparseToDense, ...)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..node import Node
from .elementwise import torch_dtype
from .registry import Constants, Kernel, register


def ints(x: torch.Tensor) -> list[int]:
    """A small integer tensor (a shape, axes, sizes) as a list of ints."""
    return [int(v) for v in x.reshape(-1).tolist()]


def axis_of(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


@register("Reshape")
def reshape(node: Node, consts: Constants) -> Kernel:
    return lambda xs: xs[0].reshape(ints(xs[1]))


@register("Squeeze")
def squeeze(node: Node, consts: Constants) -> Kernel:
    dims = node.attr_ints("squeeze_dims", [])

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        if not dims:
            return x.reshape([d for d in x.shape if d != 1])
        drop = {axis_of(d, x.dim()) for d in dims}
        return x.reshape([d for i, d in enumerate(x.shape) if i not in drop])

    return kernel


@register("ExpandDims")
def expand_dims(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        x = xs[0]
        return x.unsqueeze(axis_of(ints(xs[1])[0], x.dim() + 1))

    return kernel


@register("Transpose")
def transpose(node: Node, consts: Constants) -> Kernel:
    return lambda xs: xs[0].permute(ints(xs[1]))


@register("ConcatV2")
def concat(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        parts = list(xs[:-1])
        return torch.cat(parts, dim=axis_of(ints(xs[-1])[0], parts[0].dim()))

    return kernel


@register("Pack")
def pack(node: Node, consts: Constants) -> Kernel:
    axis = node.attr_int("axis", 0)
    return lambda xs: torch.stack(list(xs), dim=axis_of(axis, xs[0].dim() + 1))


@register("Unpack")
def unpack(node: Node, consts: Constants) -> Kernel:
    axis = node.attr_int("axis", 0)
    return lambda xs: tuple(torch.unbind(xs[0], dim=axis_of(axis, xs[0].dim())))


@register("Split")
def split(node: Node, consts: Constants) -> Kernel:
    count = node.attr_int("num_split")

    def kernel(xs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        x = xs[1]
        dim = axis_of(ints(xs[0])[0], x.dim())
        return tuple(torch.split(x, x.shape[dim] // count, dim=dim))

    return kernel


@register("SplitV")
def split_v(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        x, sizes = xs[0], ints(xs[1])
        dim = axis_of(ints(xs[2])[0], x.dim())
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[dim] - (sum(sizes) + 1)
        return tuple(torch.split(x, sizes, dim=dim))

    return kernel


@register("Shape")
def shape(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.tensor(list(xs[0].shape), dtype=torch.int64)


@register("Size")
def size(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.tensor(xs[0].numel(), dtype=torch.int64)


@register("Fill")
def fill(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.full(ints(xs[0]), xs[1].item(), dtype=xs[1].dtype)


@register("ZerosLike")
def zeros_like(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.zeros_like(xs[0])


@register("OnesLike")
def ones_like(node: Node, consts: Constants) -> Kernel:
    return lambda xs: torch.ones_like(xs[0])


@register("Range")
def range_(node: Node, consts: Constants) -> Kernel:
    dtype = torch_dtype(node.attr_dtype("Tidx", "DT_INT32"))

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        start, limit, delta = (x.item() for x in xs)
        return torch.arange(start, limit, delta, dtype=torch.float64).to(dtype)

    return kernel


@register("Tile")
def tile(node: Node, consts: Constants) -> Kernel:
    return lambda xs: xs[0].repeat(ints(xs[1]))


@register("Pad", "PadV2")
def pad(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        x, pairs = xs[0], ints(xs[1])
        value = xs[2].item() if len(xs) > 2 else 0
        return pad_value(x, [(pairs[2 * d], pairs[2 * d + 1]) for d in range(x.dim())], value)

    return kernel


def pad_value(x: torch.Tensor, pairs: list[tuple[int, int]], value: float | int = 0) -> torch.Tensor:
    """Pad each dimension by ``(before, after)``. The result keeps ``x``'s memory layout (a channels-last
    4-D tensor stays channels-last, so the convolution that follows needs no copy)."""
    if not any(b or a for b, a in pairs):
        return x
    shape = [d + b + a for d, (b, a) in zip(x.shape, pairs)]
    layout = (torch.channels_last if x.dim() == 4 and not x.is_contiguous()
              and x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format)
    out = torch.full(shape, value, dtype=x.dtype).contiguous(memory_format=layout)
    out[tuple(slice(b, b + d) for d, (b, _) in zip(x.shape, pairs))] = x
    return out


@register("Slice")
def slice_(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        x, begin, sizes = xs[0], ints(xs[1]), ints(xs[2])
        index = tuple(slice(b, x.shape[i] if s == -1 else b + s) for i, (b, s) in enumerate(zip(begin, sizes)))
        return x[index]

    return kernel


@register("StridedSlice")
def strided_slice(node: Node, consts: Constants) -> Kernel:
    masks = {k: node.attr_int(k, 0) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                               "shrink_axis_mask")}

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        return strided_slice_value(xs[0], ints(xs[1]), ints(xs[2]), ints(xs[3]), **masks)

    return kernel


def strided_slice_value(x: torch.Tensor, begin: list[int], end: list[int], strides: list[int], *, begin_mask: int,
                        end_mask: int, ellipsis_mask: int, new_axis_mask: int, shrink_axis_mask: int) -> torch.Tensor:
    """TF's StridedSlice. Each entry of ``begin`` is an ellipsis, a new axis, a shrunk index (``begin`` alone,
    masks ignored) or a slice; dimensions after the entries are kept whole (an implicit trailing ellipsis)."""
    spec: list[object] = []
    for i in range(len(begin)):
        bit = 1 << i
        if ellipsis_mask & bit:
            spec.append(Ellipsis)
        elif new_axis_mask & bit:
            spec.append(None)
        elif shrink_axis_mask & bit:
            spec.append(begin[i])
        else:
            spec.append(slice(None if begin_mask & bit else begin[i], None if end_mask & bit else end[i], strides[i]))
    return _apply_spec(x, spec)


def _apply_spec(x: torch.Tensor, spec: list[object]) -> torch.Tensor:
    """Apply Python-style index entries (slices with any step, ints, None, one Ellipsis) to ``x``."""
    n_real = sum(1 for s in spec if s is not None and s is not Ellipsis)
    if Ellipsis not in spec:
        spec = [*spec, Ellipsis]
    out_parts: list[object] = []
    dim = 0
    for s in spec:
        if s is Ellipsis:
            for _ in range(x.dim() - n_real):
                out_parts.append(slice(None))
                dim += 1
        else:
            out_parts.append(s)
            if s is not None:
                dim += 1
    # Now every entry of out_parts is a slice, an int or None, one per input dimension plus the new axes.
    result = x
    position = 0  # the dimension of `result` the next entry applies to
    for s in out_parts:
        if s is None:
            result = result.unsqueeze(position)
            position += 1
        elif isinstance(s, int):
            size = result.shape[position]
            index = s + size if s < 0 else s
            if not 0 <= index < size:
                raise IndexError(f"StridedSlice index {s} out of range for size {size}")
            result = result.select(position, index)
        else:
            assert isinstance(s, slice)
            start, stop, step = s.indices(result.shape[position])
            if step == 1:
                result = result.narrow(position, start, max(stop - start, 0))
            else:
                picks = torch.arange(start, stop, step, dtype=torch.int64)
                result = result.index_select(position, picks)
            position += 1
    return result


@register("GatherV2")
def gather_v2(node: Node, consts: Constants) -> Kernel:
    node.require(node.attr_int("batch_dims", 0) == 0, "batch_dims", f"batch_dims={node.attr_int('batch_dims', 0)}",
                 "batch_dims=0")

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        params, indices = xs[0], xs[1]
        axis = axis_of(ints(xs[2])[0], params.dim())
        picked = params.index_select(axis, indices.reshape(-1).long())
        return picked.reshape(*params.shape[:axis], *indices.shape, *params.shape[axis + 1:])

    return kernel


@register("GatherNd")
def gather_nd(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        params, indices = xs[0], xs[1].long()
        depth = indices.shape[-1]
        lead = params.shape[:depth]
        strides = torch.tensor([math.prod(lead[i + 1:]) for i in range(depth)], dtype=torch.int64)
        flat_index = (indices * strides).sum(-1)
        flat = params.reshape(-1, *params.shape[depth:])
        return flat.index_select(0, flat_index.reshape(-1)).reshape(*indices.shape[:-1], *params.shape[depth:])

    return kernel


@register("TopKV2")
def top_k(node: Node, consts: Constants) -> Kernel:
    node.require(node.attr_bool("sorted", True), "sorted", "sorted=false", "sorted=true")
    return lambda xs: top_k_value(xs[0], int(xs[1].item()))


def top_k_value(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest along the last dimension, largest first; equal values in index order, as TF.js's CPU
    kernel orders them (value descending, then index ascending). torch.topk leaves ties in any order."""
    rows = x.reshape(-1, x.shape[-1])
    size = rows.shape[-1]
    values, indices = torch.topk(rows, min(k + 1, size), dim=-1, sorted=True)
    # A tie across the k-th place means torch may have picked the wrong ones among equal values.
    boundary_tie = k < size and bool((values[:, k] == values[:, k - 1]).any()) if k > 0 else False
    if boundary_tie:
        # Order the whole row (stable: lower index first) and keep its first k.
        indices = torch.sort(rows, dim=-1, descending=True, stable=True).indices[:, :k]
    else:
        # The set is right; order it by (value descending, index ascending).
        indices, _ = torch.sort(indices[:, :k], dim=-1)
        order = torch.sort(rows.gather(-1, indices), dim=-1, descending=True, stable=True).indices
        indices = indices.gather(-1, order)
    values = rows.gather(-1, indices)
    shape = (*x.shape[:-1], k)
    return values.reshape(shape), indices.reshape(shape)


@register("ArgMax", "ArgMin")
def arg_max(node: Node, consts: Constants) -> Kernel:
    fn = torch.argmax if node.op == "ArgMax" else torch.argmin  # both answer the first index of equal values

    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        return fn(xs[0], dim=axis_of(ints(xs[1])[0], xs[0].dim()))

    return kernel


@register("SparseToDense")
def sparse_to_dense(node: Node, consts: Constants) -> Kernel:
    def kernel(xs: Sequence[torch.Tensor]) -> torch.Tensor:
        indices, shape, values, default = xs
        out = torch.full(ints(shape), default.item(), dtype=values.dtype)
        if indices.numel() == 0:
            return out
        index = indices.long().reshape(indices.shape[0], -1) if indices.dim() > 0 else indices.long().reshape(1, 1)
        flat = out.reshape(-1)
        strides = torch.tensor(out.stride(), dtype=torch.int64)
        positions = (index * strides[: index.shape[1]]).sum(-1)
        flat[positions] = values.reshape(-1).expand(positions.shape[0]) if values.numel() == 1 else values.reshape(-1)
        return out

    return kernel
