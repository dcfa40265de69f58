"""The executor: a TF.js graph model run on torch.

Loading orders the nodes (topologically, Kahn's algorithm, ties in file order), builds one kernel per node
(refusing unknown ops and attribute values with ``UnsupportedOp`` before anything runs) and folds every node
whose inputs are all constant. Running a set of outputs runs only the nodes they need, in order, and frees each
intermediate tensor after its last use.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import TfjsModelError, UnsupportedOp
from .files import ModelFiles, read_model
from .fuse import fuse
from .node import DTYPES, Node, Ref
from .ops import OPS, Kernel
from .ops.elementwise import torch_dtype

SOURCE_OPS = {"Const", "Placeholder"}
ArrayLike = Any  # numpy array, torch tensor, or nested lists


@dataclass(frozen=True)
class InputSpec:
    """A graph input: its node name, shape (``-1`` where free) and the dtype the executor feeds it as."""

    name: str
    shape: tuple[int, ...] | None
    dtype: str


class GraphModel:
    """A loaded TF.js graph model. ``run`` maps inputs to outputs and keeps no state between runs (threads may
    share one).

    Example:
        >>> model = GraphModel.load("models/centernet.json")               # doctest: +SKIP
        >>> out = model.run(np.zeros((1, 512, 512, 3), np.float32))        # doctest: +SKIP
        >>> out["tower_0/detections"].shape                                # doctest: +SKIP
        torch.Size([1, 100, 6])
    """

    def __init__(self, files: ModelFiles):
        self.name = files.name
        self.signature = files.signature
        self.nodes: dict[str, Node] = {}
        for doc in files.nodes:
            node = Node.from_json(files.name, doc)
            if node.name in self.nodes:
                raise TfjsModelError(f"TF.js model {self.name}: node {node.name!r} is defined twice")
            self.nodes[node.name] = node
        self.nodes = fuse(self.nodes, files.weights)
        self.order = self._topological_order()
        self.inputs = [self._input_spec(n) for n in self.order if self.nodes[n].op == "Placeholder"]
        self._constants: dict[str, tuple[torch.Tensor, ...]] = {}
        self._kernels: dict[str, Kernel] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._build(files.weights)

    @classmethod
    def load(cls, path: str | Path) -> GraphModel:
        """Read ``model.json`` and its shards and prepare every node (raises ``UnsupportedOp`` or
        ``TfjsModelError`` with one line saying what is wrong)."""
        return cls(read_model(path))

    # ---- loading ---------------------------------------------------------------------------------------------
    def _topological_order(self) -> list[str]:
        position = {name: i for i, name in enumerate(self.nodes)}
        waiting: dict[str, int] = {}
        users: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            sources = {ref.node for ref in node.inputs}
            for source in sources:
                if source not in self.nodes:
                    raise TfjsModelError(f"TF.js model {self.name}: node {node.name!r} reads {source!r}, which is "
                                         "not in the graph")
                users[source].append(node.name)
            waiting[node.name] = len(sources)
        ready = deque(sorted((n for n, count in waiting.items() if count == 0), key=position.__getitem__))
        order: list[str] = []
        while ready:
            name = ready.popleft()
            order.append(name)
            for user in users[name]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    ready.append(user)
        if len(order) != len(self.nodes):
            stuck = next(n for n in self.nodes if waiting[n] > 0)
            raise TfjsModelError(f"TF.js model {self.name}: the graph has a cycle through node {stuck!r} "
                                 "(control flow is not supported)")
        return order

    def _input_spec(self, name: str) -> InputSpec:
        node = self.nodes[name]
        dims = node.attrs.get("shape", {}).get("shape", {})
        shape = None if dims.get("unknownRank") else tuple(int(d.get("size", -1)) for d in dims.get("dim", []))
        return InputSpec(name=name, shape=shape, dtype=node.attr_dtype("dtype", "DT_FLOAT"))

    def _build(self, weights: Mapping[str, np.ndarray]) -> None:
        with torch.inference_mode():
            for name in self.order:
                node = self.nodes[name]
                if node.op == "Const":
                    self._constants[name] = (self._const_value(node, weights),)
                    continue
                if node.op == "Placeholder":
                    continue
                builder = OPS.get(node.op)
                if builder is None:
                    raise UnsupportedOp(f"TF.js model {self.name}: node {name!r} uses op {node.op}, which lavr's "
                                        "TF.js executor does not run", op=node.op, node=name)
                kernel = builder(node, self)
                self._kernels[name] = kernel
                if node.inputs and all(ref.node in self._constants for ref in node.inputs):
                    inputs = [self._constants[ref.node][ref.index] for ref in node.inputs]
                    self._constants[name] = _as_tuple(kernel(inputs))

    def _const_value(self, node: Node, weights: Mapping[str, np.ndarray]) -> torch.Tensor:
        if node.name not in weights:
            raise TfjsModelError(f"TF.js model {self.name}: constant {node.name!r} is not in the weights manifest")
        array = weights[node.name]
        dtype = torch_dtype(DTYPES.get(node.attrs.get("dtype", {}).get("type", ""), _numpy_kind(array)))
        return torch.from_numpy(np.array(array, order="C", copy=True)).to(dtype)

    def value(self, ref: Ref) -> torch.Tensor | None:
        """The load-time value of ``ref`` (a weight or a folded node), or ``None`` (the ``Constants`` protocol)."""
        outputs = self._constants.get(ref.node)
        return None if outputs is None else outputs[ref.index]

    # ---- running ---------------------------------------------------------------------------------------------
    @property
    def output_names(self) -> list[str]:
        """The outputs ``run`` returns by default: the signature's, else every node nothing reads."""
        outputs = self.signature.get("outputs") if isinstance(self.signature, dict) else None
        if outputs:
            return [spec.get("name", key) for key, spec in outputs.items()]
        read = {ref.node for node in self.nodes.values() for ref in node.inputs}
        return [n for n in self.order if n not in read and self.nodes[n].op not in SOURCE_OPS]

    def run(self, feeds: ArrayLike | Mapping[str, ArrayLike], outputs: Sequence[str] | None = None
            ) -> dict[str, torch.Tensor]:
        """Run the graph.

        Args:
            feeds: The input (for a one-input graph) or input name -> value; numpy arrays, torch tensors or lists.
            outputs: Output names (``node`` or ``node:index``); default ``output_names``.

        Returns:
            Output name (as asked) -> tensor (float32, int32 or bool).

        Raises:
            TfjsModelError: A missing or misshapen input, or an unknown output name.
        """
        wanted = tuple(outputs or self.output_names)
        plan = self._plans.get(wanted)
        if plan is None:
            plan = self._plans[wanted] = self._plan(wanted)
        values: dict[str, tuple[torch.Tensor, ...]] = dict(self._feed(feeds))
        uses = dict(plan.uses)
        # Denormal floats (below 1.2e-38, e.g. far tails of sigmoids) are computed as zero while the graph runs:
        # x86 CPUs handle them in microcode, and they cost centernet a quarter of its time here. The flag is the
        # calling thread's; it is switched off again after the run.
        flushing = torch.set_flush_denormal(True)
        try:
            return self._execute(plan, values, uses, wanted)
        finally:
            if flushing:
                torch.set_flush_denormal(False)

    def _execute(self, plan: _Plan, values: dict[str, tuple[torch.Tensor, ...]], uses: dict[str, int],
                 wanted: tuple[str, ...]) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            for name in plan.steps:
                node = self.nodes[name]
                args = []
                for ref in node.inputs:
                    args.append(self._lookup(values, ref))
                    if ref.node in uses:
                        uses[ref.node] -= 1
                        if uses[ref.node] == 0 and ref.node not in plan.kept:
                            values.pop(ref.node, None)
                values[name] = _as_tuple(self._kernels[name](args))
            result = {}
            for out in wanted:
                tensor = self._lookup(values, Ref.parse(out))
                result[out] = tensor.to(torch.int32) if tensor.dtype == torch.int64 else tensor
        return result

    def _lookup(self, values: Mapping[str, tuple[torch.Tensor, ...]], ref: Ref) -> torch.Tensor:
        outputs = values.get(ref.node) or self._constants.get(ref.node)
        if outputs is None:
            raise TfjsModelError(f"TF.js model {self.name}: no value for {ref}")
        if ref.index >= len(outputs):
            raise TfjsModelError(f"TF.js model {self.name}: node {ref.node!r} has no output {ref.index}")
        return outputs[ref.index]

    def _feed(self, feeds: ArrayLike | Mapping[str, ArrayLike]) -> dict[str, tuple[torch.Tensor]]:
        if not isinstance(feeds, Mapping):
            if len(self.inputs) != 1:
                raise TfjsModelError(f"TF.js model {self.name}: has inputs {[i.name for i in self.inputs]}; "
                                     "pass a dict of them")
            feeds = {self.inputs[0].name: feeds}
        fed: dict[str, tuple[torch.Tensor]] = {}
        for spec in self.inputs:
            key = spec.name if spec.name in feeds else f"{spec.name}:0"
            if key not in feeds:
                raise TfjsModelError(f"TF.js model {self.name}: input {spec.name!r} is missing")
            value = feeds[key]
            tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
            tensor = tensor.to(torch_dtype(spec.dtype))
            if spec.shape is not None and (tensor.dim() != len(spec.shape) or any(
                    want not in (-1, got) for want, got in zip(spec.shape, tensor.shape))):
                raise TfjsModelError(f"TF.js model {self.name}: input {spec.name!r} has shape {list(tensor.shape)}; "
                                     f"the model takes {list(spec.shape)} (-1: any size)")
            fed[spec.name] = (tensor,)
        unknown = set(feeds) - {s.name for s in self.inputs} - {f"{s.name}:0" for s in self.inputs}
        if unknown:
            raise TfjsModelError(f"TF.js model {self.name}: no input named {sorted(unknown)[0]!r}")
        return fed

    def _plan(self, wanted: tuple[str, ...]) -> _Plan:
        needed: set[str] = set()
        stack = []
        for out in wanted:
            ref = Ref.parse(out)
            if ref.node not in self.nodes:
                raise TfjsModelError(f"TF.js model {self.name}: no node named {ref.node!r} (outputs: "
                                     f"{', '.join(self.output_names)})")
            stack.append(ref.node)
        while stack:
            name = stack.pop()
            if name in needed or name in self._constants:
                continue
            needed.add(name)
            stack.extend(ref.node for ref in self.nodes[name].inputs)
        steps = [n for n in self.order if n in needed and self.nodes[n].op != "Placeholder"]
        uses: dict[str, int] = {}
        for name in steps:
            for ref in self.nodes[name].inputs:
                if ref.node not in self._constants:
                    uses[ref.node] = uses.get(ref.node, 0) + 1
        return _Plan(steps=steps, uses=uses, kept=frozenset(Ref.parse(o).node for o in wanted))


@dataclass(frozen=True)
class _Plan:
    steps: list[str]
    uses: dict[str, int]
    kept: frozenset[str]


def _as_tuple(output: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return output if isinstance(output, tuple) else (output,)


def _numpy_kind(array: np.ndarray) -> str:
    if array.dtype == np.bool_:
        return "bool"
    return "int64" if np.issubdtype(array.dtype, np.integer) else "float32"
