"""Reading a TF.js graph model from disk: ``model.json`` (the topology and the weights manifest) and its shards.

The weights manifest lists groups of weights; each group's ``paths`` are shards whose bytes, concatenated, hold
the group's weights one after the other. A weight is stored as its dtype (float32, int32, bool) or quantised:
``float16`` (2 bytes, float32 weights only) or ``uint8``/``uint16`` with ``min`` and ``scale``
(``value = q * scale + min``, rounded half up for int32 weights), exactly as ``@tensorflow/tfjs-core``'s
``decodeWeight`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TfjsModelError

# Bytes per stored value, by storage dtype.
STORED_SIZE = {"float32": 4, "int32": 4, "bool": 1, "float16": 2, "uint8": 1, "uint16": 2}
QUANTISED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


@dataclass(frozen=True)
class ModelFiles:
    """What ``model.json`` says, with its weights decoded.

    Attributes:
        name: A short name for messages (the file's stem, e.g. ``centernet``).
        nodes: The topology's nodes, as in the JSON (``name``, ``op``, ``input``, ``attr``).
        weights: Weight name -> array (float32, int32 or bool), shaped.
        signature: The model's signature (``inputs``/``outputs`` by name), possibly empty.
    """

    name: str
    nodes: list[dict[str, Any]]
    weights: dict[str, np.ndarray]
    signature: dict[str, Any] = field(default_factory=dict)


def read_model(path: str | Path) -> ModelFiles:
    """Read ``model.json`` and the shards it names (from the same folder).

    Raises:
        TfjsModelError: The file is missing, not a TF.js graph model, or a shard is missing or too short.
    """
    path = Path(path)
    name = path.stem
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TfjsModelError(f"TF.js model {path}: the file does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TfjsModelError(f"TF.js model {path}: cannot read it as JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("modelTopology"), dict):
        raise TfjsModelError(f"TF.js model {path}: no modelTopology; not a TF.js graph model")
    topology = doc["modelTopology"]
    nodes = topology.get("node")
    if not isinstance(nodes, list):
        raise TfjsModelError(f"TF.js model {path}: modelTopology has no node list (a layers model is not supported)")
    if topology.get("library", {}).get("function"):
        raise TfjsModelError(f"TF.js model {path}: has a function library (control flow), which is not supported")
    weights = read_weights(doc.get("weightsManifest", []), path.parent, model=name)
    signature = doc.get("signature") or doc.get("userDefinedMetadata", {}).get("signature") or {}
    return ModelFiles(name=name, nodes=nodes, weights=weights, signature=signature)


def read_weights(manifest: list[dict[str, Any]], folder: Path, *, model: str) -> dict[str, np.ndarray]:
    """Decode every weight of every group of ``manifest`` from the shards in ``folder``."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join(_read_shard(folder / shard, model=model) for shard in group.get("paths", []))
        offset = 0
        for spec in group.get("weights", []):
            array, size = decode_weight(spec, data, offset, model=model)
            weights[spec["name"]] = array
            offset += size
    return weights


def _read_shard(path: Path, *, model: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TfjsModelError(f"TF.js model {model}: weight shard {path} cannot be read "
                             f"({exc.strerror or exc})") from None


def decode_weight(spec: dict[str, Any], data: bytes, offset: int, *, model: str) -> tuple[np.ndarray, int]:
    """One weight from ``data`` at ``offset``: ``(array, bytes it took)``."""
    name, dtype = spec["name"], spec["dtype"]
    shape = [int(d) for d in spec.get("shape", [])]
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    quant = spec.get("quantization")
    stored = quant["dtype"] if quant else dtype
    if stored not in STORED_SIZE or dtype not in ("float32", "int32", "bool"):
        raise TfjsModelError(f"TF.js model {model}: weight {name!r} has dtype {dtype!r} stored as {stored!r}; "
                             "supported: float32, int32, bool, quantised as float16, uint8 or uint16")
    size = count * STORED_SIZE[stored]
    if offset + size > len(data):
        raise TfjsModelError(f"TF.js model {model}: the weight shards end before weight {name!r} "
                             f"({len(data)} bytes, {offset + size} needed)")
    raw = data[offset:offset + size]
    if quant is None:
        numpy_dtype = {"float32": "<f4", "int32": "<i4", "bool": "u1"}[dtype]
        array = np.frombuffer(raw, dtype=numpy_dtype).copy()
        if dtype == "bool":
            array = array.astype(bool)
    elif stored == "float16":
        if dtype != "float32":
            raise TfjsModelError(f"TF.js model {model}: weight {name!r} is {dtype} quantised as float16, which "
                                 "TF.js allows for float32 weights only")
        array = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    else:
        if "min" not in quant or "scale" not in quant:
            raise TfjsModelError(f"TF.js model {model}: weight {name!r} is quantised as {stored} without min and scale")
        q = np.frombuffer(raw, dtype=np.dtype(QUANTISED[stored]).newbyteorder("<")).astype(np.float64)
        values = q * float(quant["scale"]) + float(quant["min"])
        if dtype == "float32":
            array = values.astype(np.float32)
        elif dtype == "int32":
            array = np.floor(values + 0.5).astype(np.int32)  # JavaScript's Math.round: halves go up
        else:
            raise TfjsModelError(f"TF.js model {model}: weight {name!r} is bool quantised as {stored}; not supported")
    return array.reshape(shape), size
