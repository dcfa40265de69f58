"""Exact execution of a query program over a scene graph (``scene_graph.build_graph``'s networkx MultiDiGraph).

Semantics worth knowing:
- Positions are box centres (as the graph's ``left_of``/``above`` edges are); sizes are box areas.
- ``relate`` gives the objects with ``label`` (any for ``object``) that have the relation edge to at least one
  object of ``input``: "the circles left of the square" is ``select square; relate left_of circle``.
- A step that needs one object (``query``, ``verify``, ``same``/``different`` with ``other``) and gets none
  or several does not fail: its result is a ``Problem`` (``not_found``, ``ambiguous``) that later steps pass
  on and the answer reports. ``query`` over several objects that share the value answers that value.
- ``count`` and ``exist`` of an empty selection are 0 and no: exact answers, not problems.
"""

from __future__ import annotations

import re
from typing import Any

import networkx as nx

from .language import (Combine, Compare, CompareNumber, Count, Except, Exist, Extreme, Filter, Not, Query,
                       QueryProgram, Relate, Same, Select, Unsupported, Verify, check_references, check_vocabulary)
from .parsing import parse_program
from .render import render_execution
from .results import Execution, Problem, StepResult
from .vocabulary import GENERIC, LABEL_KEY, SceneVocabulary, normalise_label, normalise_value, value_parts

def _node_key(node: str) -> tuple[int, str]:
    m = re.search(r"(\d+)$", node)
    return (int(m.group(1)) if m else 1 << 30, node)


def _attr(graph: nx.MultiDiGraph, node: str, key: str) -> str | None:
    data = graph.nodes[node]
    if key == LABEL_KEY:
        return normalise_label(data["label"])
    value = data.get("attributes", {}).get(key)
    return None if value is None else normalise_value(str(value))


def _has_value(graph: nx.MultiDiGraph, node: str, key: str, value: str) -> bool:
    have = _attr(graph, node, key)
    if have is None:
        return False
    # "left" matches "top-left": a compound value holds each of its parts
    return have == value or ("-" not in value and value in value_parts(have))


class _Run:
    """The state of one execution: the graph, the vocabulary and every step's result so far."""

    def __init__(self, graph: nx.MultiDiGraph, vocabulary: SceneVocabulary):
        self.graph = graph
        self.vocabulary = vocabulary
        self.results: list[StepResult] = []
        self.all = sorted(graph.nodes, key=_node_key)

    def objects(self, ref: int) -> list[str]:
        return list(self.results[ref].objects or [])

    def single(self, ref: int, index: int) -> tuple[str | None, Problem | None]:
        """The one object of step ``ref``, or the problem (none, several) reported at ``index``."""
        objs = self.objects(ref)
        if len(objs) == 1:
            return objs[0], None
        kind = "not_found" if not objs else "ambiguous"
        return None, Problem(kind=kind, step=ref, objects=objs)

    # One function per op ------------------------------------------------------------------------------------
    def labelled(self, label: str) -> list[str]:
        if label == GENERIC:
            return list(self.all)
        by_label = [n for n in self.all if normalise_label(self.graph.nodes[n]["label"]) == label]
        if by_label or self.vocabulary.is_label(label):
            return by_label
        # a noun the experts give as an attribute value (shape=circle) selects by that attribute
        keys = self.vocabulary.keys_of(label)
        return [n for n in self.all if any(_has_value(self.graph, n, k, label) for k in keys)]

    def select(self, step: Select) -> list[str]:
        return self.labelled(step.label)

    def filter(self, step: Filter) -> list[str]:
        if step.attribute == LABEL_KEY and step.value == GENERIC:
            return self.objects(step.input)
        return [n for n in self.objects(step.input) if _has_value(self.graph, n, step.attribute, step.value)]

    def relate(self, step: Relate) -> list[str]:
        targets = self.objects(step.input)
        return [n for n in self.labelled(step.label)
                if any(t != n and self.graph.has_edge(n, t, key=step.relation) for t in targets)]

    def extreme(self, step: Extreme) -> list[str]:
        objs = self.objects(step.input)
        if not objs:
            return []

        def measure(node: str) -> float:
            box = self.graph.nodes[node]["box"]
            cx, cy = box.center
            return {"leftmost": cx, "rightmost": -cx, "topmost": cy, "bottommost": -cy, "smallest": box.area,
                    "largest": -box.area}[step.op]

        best = min(measure(n) for n in objs)
        return [n for n in objs if measure(n) - best <= 1e-9]

    def run_step(self, index: int, step: Any, rtype: str) -> StepResult:
        res = StepResult(index=index, op=step.op, type=rtype)
        inherited = next((self.results[r].problem for r in step.refs().values() if self.results[r].problem), None)
        if inherited is not None:
            res.problem = inherited
            return res
        if rtype == "objects" and not isinstance(step, Combine):
            fn = {Select: self.select, Filter: self.filter, Relate: self.relate, Extreme: self.extreme,
                  Except: lambda s: [n for n in self.objects(s.input) if n not in set(self.objects(s.other))]}
            res.objects = fn[type(step)](step)
            res.evidence = list(res.objects)
            return res
        self._value_step(step, res)
        return res

    def _value_step(self, step: Any, res: StepResult) -> None:
        if isinstance(step, Combine):
            self._combine(step, res)
        elif isinstance(step, Count):
            res.value, res.evidence = len(self.objects(step.input)), self.objects(step.input)
        elif isinstance(step, Exist):
            res.value, res.evidence = bool(self.objects(step.input)), self.objects(step.input)
        elif isinstance(step, Not):
            res.value, res.evidence = not self.results[step.input].value, self.results[step.input].evidence
        elif isinstance(step, Query):
            self._query(step, res)
        elif isinstance(step, Verify):
            self._verify(step, res)
        elif isinstance(step, (Compare, CompareNumber)):
            self._compare(step, res)
        elif isinstance(step, Same):
            self._same(step, res)
        elif isinstance(step, Unsupported):
            res.problem = Problem(kind="unsupported", step=res.index,
                                  message="the question needs more than the objects, attributes and relations found")
        else:  # pragma: no cover - every op is handled above
            raise TypeError(f"no executor for {step.op}")

    def _combine(self, step: Combine, res: StepResult) -> None:
        a, b = self.results[step.input], self.results[step.other]
        if res.type == "objects":
            left, right = a.objects or [], b.objects or []
            if step.op == "and":
                res.objects = [n for n in left if n in set(right)]
            else:
                res.objects = sorted(set(left) | set(right), key=_node_key)
            res.evidence = list(res.objects)
            return
        res.value = (bool(a.value) and bool(b.value)) if step.op == "and" else (bool(a.value) or bool(b.value))
        res.evidence = sorted(set(a.evidence) | set(b.evidence), key=_node_key)

    def _query(self, step: Query, res: StepResult) -> None:
        objs = self.objects(step.input)
        if not objs:
            res.problem = Problem(kind="not_found", step=step.input)
            return
        values = {n: _attr(self.graph, n, step.attribute) for n in objs}
        res.detail = ", ".join(f"{n} {step.attribute}={v or '?'}" for n, v in values.items())
        res.evidence = objs
        distinct = set(values.values())
        if None in distinct:
            missing = [n for n, v in values.items() if v is None]
            res.problem = Problem(kind="no_attribute", step=res.index, objects=missing,
                                  message=f"the experts give no {step.attribute} for {', '.join(missing)}")
        elif len(distinct) > 1:  # several objects with different values: the question meant one of them
            res.problem = Problem(kind="ambiguous", step=step.input, objects=objs)
        else:
            res.value = distinct.pop()

    def _verify(self, step: Verify, res: StepResult) -> None:
        a, problem = self.single(step.input, res.index)
        b, problem_b = self.single(step.other, res.index)
        res.problem = problem or problem_b
        if a is None or b is None:
            return
        res.value = a != b and self.graph.has_edge(a, b, key=step.relation)
        res.evidence = [a, b]
        res.detail = f"{a} {step.relation} {b}"

    def _amount(self, ref: int) -> tuple[int, list[str]]:
        r = self.results[ref]
        if r.type == "objects":
            return len(r.objects or []), list(r.objects or [])
        return int(r.value or 0), list(r.evidence)

    def _compare(self, step: Compare | CompareNumber, res: StepResult) -> None:
        a, ev_a = self._amount(step.input)
        if isinstance(step, CompareNumber):
            b, ev_b = step.number, []
        else:
            b, ev_b = self._amount(step.other)
        op = step.op.removesuffix("_than")
        res.value = {"more": a > b, "fewer": a < b, "equal": a == b, "exactly": a == b}[op]
        res.evidence = sorted(set(ev_a) | set(ev_b), key=_node_key)
        res.detail = f"{a} vs {b}"

    def _same(self, step: Same, res: StepResult) -> None:
        if step.other is None:
            objs = self.objects(step.input)
            if not objs:
                res.problem = Problem(kind="not_found", step=step.input)
                return
        else:
            a, problem = self.single(step.input, res.index)
            b, problem_b = self.single(step.other, res.index)
            if problem or problem_b:
                res.problem = problem or problem_b
                return
            objs = [a, b]  # type: ignore[list-item]
        values = {n: _attr(self.graph, n, step.attribute) for n in objs}
        res.detail = ", ".join(f"{n} {step.attribute}={v or '?'}" for n, v in values.items())
        res.evidence = list(objs)
        if None in values.values():
            missing = [n for n, v in values.items() if v is None]
            res.problem = Problem(kind="no_attribute", step=res.index, objects=missing,
                                  message=f"the experts give no {step.attribute} for {', '.join(missing)}")
            return
        same = len(set(values.values())) == 1
        res.value = same if step.op == "same" else not same


def execute(program: QueryProgram | str | dict[str, Any] | list[Any], graph: nx.MultiDiGraph, *,
            vocabulary: SceneVocabulary | None = None) -> Execution:
    """Run a program exactly on a scene graph.

    Args:
        program: A ``QueryProgram`` or anything ``parse_program`` reads.
        graph: The scene graph (nodes with ``label``, ``box``, ``attributes``; edges keyed by relation).
        vocabulary: The names the program may use; by default ``SceneVocabulary.from_graph(graph)``.

    Raises:
        QueryError: The program is malformed or names something the experts cannot give (checked before any
            step runs). Empty and ambiguous selections are results, not errors.
    """
    program = parse_program(program)
    vocabulary = vocabulary or SceneVocabulary.from_graph(graph)
    program = check_vocabulary(program, vocabulary)
    types = check_references(program)
    run = _Run(graph, vocabulary)
    for i, (step, rtype) in enumerate(zip(program.steps, types)):
        run.results.append(run.run_step(i, step, rtype))
    return render_execution(program, run.results, graph)
