"""Builds small TF.js graph models (model.json + weight shards) for the executor's tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np


class DType(str):
    """An attribute value that is a TF dtype (``DType("DT_FLOAT")``)."""


def attr(value: Any) -> dict[str, Any]:
    """A Python value as TF's AttrValue JSON."""
    if isinstance(value, DType):
        return {"type": str(value)}
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        return {"s": base64.b64encode(value.encode()).decode()}
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value) and value:
            return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in value]}}
        return {"list": {"i": [str(int(v)) for v in value]}}
    raise TypeError(value)


class GraphBuilder:
    """Nodes and weights of a graph model; ``save`` writes ``<name>.json`` and its shard(s)."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.weights: list[tuple[dict[str, Any], bytes]] = []

    def placeholder(self, name: str, shape: list[int], dtype: str = "DT_FLOAT") -> str:
        dims = {"dim": [{"size": str(d)} for d in shape]}
        self.nodes.append({"name": name, "op": "Placeholder",
                           "attr": {"dtype": {"type": dtype}, "shape": {"shape": dims}}})
        return name

    def const(self, name: str, value: Any, *, dtype: str | None = None, quantize: str | None = None) -> str:
        """A constant stored in the weights: float32/int32/bool, or quantised (``float16``, ``uint8``,
        ``uint16``; quantised values are stored so that they decode to ``value`` up to the quantisation step)."""
        array = np.asarray(value)
        if dtype is None:
            dtype = "bool" if array.dtype == np.bool_ else ("int32" if np.issubdtype(array.dtype, np.integer)
                                                             else "float32")
        spec: dict[str, Any] = {"name": name, "shape": list(array.shape), "dtype": dtype}
        if quantize is None:
            data = array.astype({"float32": "<f4", "int32": "<i4", "bool": "u1"}[dtype]).tobytes()
        elif quantize == "float16":
            data = array.astype("<f2").tobytes()
            spec["quantization"] = {"dtype": "float16", "original_dtype": dtype}
        else:
            top = 255 if quantize == "uint8" else 65535
            low, high = float(array.min()), float(array.max())
            scale = (high - low) / top if high > low else 1.0
            q = np.round((array.astype(np.float64) - low) / scale).astype(np.uint8 if top == 255 else "<u2")
            data = q.tobytes()
            spec["quantization"] = {"dtype": quantize, "min": low, "scale": scale, "original_dtype": dtype}
        tf_dtype = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL"}[dtype]
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": tf_dtype}, "value": {
            "tensor": {"dtype": tf_dtype, "tensorShape": {"dim": [{"size": str(d)} for d in array.shape]}}}}})
        self.weights.append((spec, data))
        return name

    def op(self, name: str, op: str, inputs: list[str], **attrs: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": list(inputs),
                           "attr": {k: attr(v) for k, v in attrs.items()}})
        return name

    def save(self, folder: Path, name: str = "model", *, shards: int = 1, reverse: bool = False) -> Path:
        """Write the model; ``shards`` splits the weight bytes over that many files, ``reverse`` lists the nodes
        in reverse order (the executor must order them itself)."""
        data = b"".join(d for _, d in self.weights)
        cut = [len(data) * i // shards for i in range(shards + 1)]
        paths = []
        for i in range(shards):
            path = f"{name}.shard{i + 1}of{shards}.bin"
            (folder / path).write_bytes(data[cut[i]:cut[i + 1]])
            paths.append(path)
        nodes = list(reversed(self.nodes)) if reverse else self.nodes
        doc = {"format": "graph-model", "generatedBy": "lavr tests", "convertedBy": "lavr tests",
               "modelTopology": {"node": nodes, "library": {}, "versions": {}},
               "weightsManifest": [{"paths": paths, "weights": [s for s, _ in self.weights]}]}
        model = folder / f"{name}.json"
        model.write_text(json.dumps(doc))
        return model
