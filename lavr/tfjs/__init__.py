"""A TensorFlow.js graph-model executor on torch (no TensorFlow, no node).

``GraphModel.load(path)`` reads ``model.json`` and its weight shards, orders the nodes, and prepares the ops the
models lavr uses need; anything else is refused at load time with ``lavr.errors.UnsupportedOp`` (one line naming
the node, the op and, where it is an attribute's value, the attribute). ``model.run(inputs)`` returns torch
tensors. Outputs match TF.js 4.22's CPU backend (``scripts/tfjs_reference.py`` records the reference; the tests
compare every output of every model lavr uses).

Nothing heavy happens at import: torch and the ops load when a model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .graph import GraphModel


def load_graph_model(path: str | Path) -> GraphModel:
    """Load a TF.js graph model (``model.json`` with its shards beside it)."""
    from .graph import GraphModel

    return GraphModel.load(path)


def supported_ops() -> list[str]:
    """The TF op names the executor runs (besides ``Const`` and ``Placeholder``)."""
    from .ops import OPS

    return sorted(OPS)


__all__ = ["load_graph_model", "supported_ops"]
