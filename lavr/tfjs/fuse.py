"""Graph rewrites that save work without changing results: a convolution followed by the addition of a constant
per-channel vector (what converters from ONNX leave behind: ``Conv2D`` then ``Add`` of the bias) becomes one
convolution with a bias, as TF.js's own ``_FusedConv2D`` would be.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import numpy as np

from .node import Node, Ref

PLAIN_CONVS = {"Conv2D": "_FusedConv2D", "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative"}
ADDS = {"Add", "AddV2", "BiasAdd"}


def fuse_bias_adds(nodes: Mapping[str, Node], weights: Mapping[str, np.ndarray]) -> dict[str, Node]:
    """Replace each ``Add(conv, bias)`` by a fused convolution of the conv's inputs with that bias.

    The replaced node keeps its name (so every reader of the sum reads the fused conv); the plain conv node stays
    in the graph, unused unless something else reads it.
    """
    fused = dict(nodes)
    for node in nodes.values():
        if node.op not in ADDS or len(node.inputs) != 2:
            continue
        for conv_ref, bias_ref in ((node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])):
            conv = nodes.get(conv_ref.node)
            if conv is None or conv.op not in PLAIN_CONVS or conv_ref.index != 0 or node.op == "BiasAdd" and (
                    conv_ref is not node.inputs[0]):
                continue
            bias, filt = weights.get(bias_ref.node), weights.get(conv.inputs[1].node)
            if nodes[bias_ref.node].op != "Const" or bias is None or filt is None or filt.ndim != 4:
                continue
            channels = filt.shape[2] * filt.shape[3] if conv.op == "DepthwiseConv2dNative" else filt.shape[3]
            if bias.shape != (channels,) or bias_ref.index != 0:
                continue
            attrs = {**conv.attrs, "fused_ops": {"list": {"s": [base64.b64encode(b"BiasAdd").decode()]}},
                     "num_args": {"i": "1"}}
            fused[node.name] = Node(model=node.model, name=node.name, op=PLAIN_CONVS[conv.op],
                                    inputs=(conv.inputs[0], conv.inputs[1], Ref(bias_ref.node)), attrs=attrs)
            break
    return fused
