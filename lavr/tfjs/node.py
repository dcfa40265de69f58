"""One node of a TF.js graph: its op, its inputs and its attributes read from the JSON's ``AttrValue`` form."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ..errors import TfjsModelError, UnsupportedOp

# TF dtypes -> the dtype the executor computes in. TF.js itself has no int64 (it computes int64 graphs in int32);
# the executor keeps every integer tensor in int64, which holds every int32 value, so index arithmetic cannot
# overflow, and hands int32 tensors back at the outputs.
DTYPES = {"DT_FLOAT": "float32", "DT_HALF": "float32", "DT_DOUBLE": "float32", "DT_INT32": "int64",
          "DT_INT64": "int64", "DT_INT16": "int64", "DT_INT8": "int64", "DT_UINT8": "int64", "DT_BOOL": "bool"}
_ABSENT = object()


@dataclass(frozen=True)
class Ref:
    """An edge: output ``index`` of node ``node`` (``name:1`` in the JSON is ``Ref(name, 1)``)."""

    node: str
    index: int = 0

    @staticmethod
    def parse(text: str) -> Ref:
        name, _, index = text.partition(":")
        return Ref(name, int(index) if index.isdigit() else 0)

    def __str__(self) -> str:
        return self.node if self.index == 0 else f"{self.node}:{self.index}"


@dataclass(frozen=True)
class Node:
    """A graph node. ``inputs`` are data inputs only (control inputs, ``^name``, order nothing TF.js runs)."""

    model: str
    name: str
    op: str
    inputs: tuple[Ref, ...]
    attrs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @staticmethod
    def from_json(model: str, doc: dict[str, Any]) -> Node:
        inputs = tuple(Ref.parse(i) for i in doc.get("input", []) if not i.startswith("^"))
        return Node(model=model, name=doc["name"], op=doc["op"], inputs=inputs, attrs=doc.get("attr", {}) or {})

    # ---- attributes -------------------------------------------------------------------------------------------
    def _raw(self, key: str, kind: str, default: Any) -> Any:
        value = self.attrs.get(key)
        if value is None or kind not in value:
            if default is _ABSENT:
                raise TfjsModelError(f"TF.js model {self.model}: node {self.name!r} ({self.op}) has no {key!r} "
                                     "attribute")
            return default
        return value[kind]

    def attr_int(self, key: str, default: Any = _ABSENT) -> int:
        return int(self._raw(key, "i", default))

    def attr_float(self, key: str, default: Any = _ABSENT) -> float:
        return float(self._raw(key, "f", default))

    def attr_bool(self, key: str, default: Any = _ABSENT) -> bool:
        return bool(self._raw(key, "b", default))

    def attr_str(self, key: str, default: Any = _ABSENT) -> str:
        value = self._raw(key, "s", _ABSENT if default is _ABSENT else None)
        return default if value is None else base64.b64decode(value).decode("utf-8")

    def attr_dtype(self, key: str, default: Any = _ABSENT) -> str:
        value = self._raw(key, "type", default)
        if value not in DTYPES:
            raise self.unsupported(key, f"{key}={value}", "float, int and bool tensors")
        return DTYPES[value]

    def attr_ints(self, key: str, default: Any = _ABSENT) -> list[int]:
        value = self._raw(key, "list", default)
        return [int(v) for v in value.get("i", [])] if isinstance(value, dict) else list(value)

    def attr_strs(self, key: str, default: Any = _ABSENT) -> list[str]:
        value = self._raw(key, "list", default)
        if not isinstance(value, dict):
            return list(value)
        return [base64.b64decode(v).decode("utf-8") for v in value.get("s", [])]

    # ---- refusals ---------------------------------------------------------------------------------------------
    def unsupported(self, attribute: str, value: str, supported: str) -> UnsupportedOp:
        """The error for an attribute value the executor does not run (one line, naming op and attribute)."""
        return UnsupportedOp(f"TF.js model {self.model}: node {self.name!r} uses op {self.op} with {value}, "
                             f"which lavr's TF.js executor does not run (supported: {supported})",
                             op=self.op, node=self.name, attribute=attribute)

    def require(self, condition: bool, attribute: str, value: str, supported: str) -> None:
        if not condition:
            raise self.unsupported(attribute, value, supported)
