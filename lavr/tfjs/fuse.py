"""Graph rewrites that save work without changing results (beyond float rounding):

- a convolution followed by the addition of a constant per-channel vector (what converters from ONNX leave:
  ``Conv2D`` then ``Add`` of the bias) becomes one convolution with a bias, as TF.js's ``_FusedConv2D``;
- a zero ``Pad`` of H and W, transposed into a VALID convolution (ONNX's NCHW padding), becomes the
  convolution's own padding, so the padded tensor is never built;
- MobileNetV3's hard-swish, ``(x * c) * relu6(x + 3)`` in four ops (``c`` is 1/6 as stored: float16 makes it
  0.1666259...), becomes torch's hard-swish times ``6 c``: two passes over the tensor instead of four.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import numpy as np

from .node import Node, Ref

PLAIN_CONVS = {"Conv2D": "_FusedConv2D", "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative"}
ADDS = {"Add", "AddV2", "BiasAdd"}
HARD_SWISH = "_LavrHardSwish"  # an op of lavr's own, only ever made by this rewrite
NCHW_TO_NHWC = [0, 2, 3, 1]


def fuse(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray]) -> dict[str, Node]:
    """Every rewrite, in order."""
    fused = fold_pads_into_convs(nodes, weights)
    fused = fuse_bias_adds(fused, weights)
    return fuse_hard_swish(fused, weights)


def _const(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray], ref: Ref) -> np.ndarray | None:
    node = nodes.get(ref.node)
    if node is None or node.op != "Const" or ref.index != 0:
        return None
    return weights.get(ref.node)


def fuse_bias_adds(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray]) -> dict[str, Node]:
    """Replace each ``Add(conv, bias)`` by a fused convolution of the conv's inputs with that bias.

    The replaced node keeps its name (so every reader of the sum reads the fused conv); the plain conv node stays
    in the graph, unused unless something else reads it.
    """
    fused = dict(nodes)
    for node in nodes.values():
        if node.op not in ADDS or len(node.inputs) != 2:
            continue
        pairs = [(node.inputs[0], node.inputs[1])]
        if node.op != "BiasAdd":
            pairs.append((node.inputs[1], node.inputs[0]))
        for conv_ref, bias_ref in pairs:
            conv = nodes.get(conv_ref.node)
            if conv is None or conv.op not in PLAIN_CONVS or conv_ref.index != 0:
                continue
            bias, filt = _const(nodes, weights, bias_ref), _const(nodes, weights, conv.inputs[1])
            if bias is None or filt is None or filt.ndim != 4:
                continue
            channels = filt.shape[2] * filt.shape[3] if conv.op == "DepthwiseConv2dNative" else filt.shape[3]
            if bias.shape != (channels,):
                continue
            attrs = {**conv.attrs, "fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}},
                     "num_args": {"i": "1"}}
            fused[node.name] = Node(model=node.model, name=node.name, op=PLAIN_CONVS[conv.op],
                                    inputs=(conv.inputs[0], conv.inputs[1], bias_ref), attrs=attrs)
            break
    return fused


def fold_pads_into_convs(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray]) -> dict[str, Node]:
    """``Conv2D(Transpose(Pad(x, zeros on H, W), NCHW->NHWC), VALID)`` -> ``Conv2D(Transpose(x), EXPLICIT)``."""
    fused = dict(nodes)
    for conv in nodes.values():
        if conv.op not in PLAIN_CONVS or not conv.inputs or conv.attr_str("padding", "") != "VALID":
            continue
        transpose = nodes.get(conv.inputs[0].node)
        if transpose is None or transpose.op != "Transpose" or conv.inputs[0].index != 0:
            continue
        perm = _const(nodes, weights, transpose.inputs[1])
        pad = nodes.get(transpose.inputs[0].node)
        if perm is None or perm.tolist() != NCHW_TO_NHWC or pad is None or pad.op not in ("Pad", "PadV2"):
            continue
        pairs = _const(nodes, weights, pad.inputs[1])
        value = _const(nodes, weights, pad.inputs[2]) if pad.op == "PadV2" else np.zeros(())
        if pairs is None or pairs.shape != (4, 2) or value is None or float(value) != 0.0:
            continue
        (n0, n1), (c0, c1), (top, bottom), (left, right) = pairs.tolist()
        if n0 or n1 or c0 or c1:
            continue
        unpadded = Node(model=conv.model, name=f"{conv.name}/lavr_unpadded_input", op="Transpose",
                        inputs=(pad.inputs[0], transpose.inputs[1]), attrs=dict(transpose.attrs))
        attrs = {**conv.attrs, "padding": {"s": base64.b64encode(b"EXPLICIT").decode()},
                 "explicit_paddings": {"list": {"i": [str(v) for v in (0, 0, top, bottom, left, right, 0, 0)]}}}
        fused[unpadded.name] = unpadded
        fused[conv.name] = Node(model=conv.model, name=conv.name, op=conv.op,
                                inputs=(Ref(unpadded.name), *conv.inputs[1:]), attrs=attrs)
    return fused


def fuse_hard_swish(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray]) -> dict[str, Node]:
    """``Mul(Mul(c, x), Relu6(Add(x, 3)))`` with ``c`` about 1/6 (any operand order) -> ``_LavrHardSwish(x)``."""
    fused = dict(nodes)
    for node in nodes.values():
        if node.op != "Mul" or len(node.inputs) != 2:
            continue
        ops = {nodes[r.node].op: nodes[r.node] for r in node.inputs if r.node in nodes and r.index == 0}
        scaled, relu6 = ops.get("Mul"), ops.get("Relu6")
        if scaled is None or relu6 is None:
            continue
        found = _scalar_operand(nodes, weights, scaled)
        add = nodes.get(relu6.inputs[0].node)
        if found is None or add is None or add.op not in ("Add", "AddV2") or not 0.16 < found[1] < 0.17:
            continue
        x, scale = found
        if _scalar_operand(nodes, weights, add) != (x, 3.0):
            continue
        fused[node.name] = Node(model=node.model, name=node.name, op=HARD_SWISH, inputs=(x,),
                                attrs={"scale": {"f": 6.0 * scale}})
    return fused


def _scalar_operand(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray],
                    node: Node) -> tuple[Ref, float] | None:
    """In a two-input node with one scalar constant: ``(the other input, the constant)``."""
    if len(node.inputs) != 2:
        return None
    for const_ref, other in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
        value = _const(nodes, weights, const_ref)
        if value is not None and value.size == 1 and value.dtype == np.float32:
            return other, float(value.reshape(()))
    return None
