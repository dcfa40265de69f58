"""The compact form of a program: one nested JSON expression, the form the LLM writes.

A small model writes a flat step list slowly (about 20 tokens for "count the people", 48 to compare two counts)
and wires its references wrongly; a nested expression has no references to miswire and costs a third of the
tokens::

    "circle"                                     the circles (a bare label selects; "object": every object)
    ["filter", SET, VALUE, ...]                   the objects of SET with these attribute values ("red", "left")
    ["relate", SET, RELATION, SET]               the objects of the first SET in RELATION to an object of the second
    ["leftmost", SET] ... ["smallest", SET]       the extreme object of SET
    ["and" | "or" | "except", SET, SET]           intersection, union, difference
    ["count", SET]  ["exist", SET]                a number; yes if any
    ["query", SET, KEY]                           an attribute of the one object ("label": what it is)
    ["verify", SET, RELATION, SET]                yes if the object is in RELATION to the other
    ["more" | "fewer" | "equal", SET, SET]        compare two counts
    ["more_than" | "fewer_than" | "exactly", SET, NUMBER]
    ["same" | "different", SET, KEY(, SET)]       compare an attribute of two objects, or of all of SET
    ["not", YESNO]  ["and" | "or", YESNO, YESNO]  logic on yes/no answers
    ["unsupported"]                               the question needs more than the objects

``flatten`` turns an expression into the step list the executor runs (``language.py``), so execution, checks and
the ``query`` tool stay one; ``nest`` is its inverse, for rendering. ``compact_schema`` is the JSON-schema grammar
of this form, narrowed per question (the names from ``grammar.allowed_names``, and per position: in ``relate``
and ``verify`` the first set may use only the labels the question names before the relation word, the second only
those after it). Sets nest at most ``MAX_DEPTH`` deep, so the grammar is finite and a model cannot loop a filter
forever.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ProgramSyntaxError, QueryError, UnknownOperation
from .grammar import Allowed, Mention, allowed_names, question_numbers
from .language import MAX_STEPS, QueryProgram, check_vocabulary
from .parsing import _loads, normalise_op, parse_program
from .vocabulary import EXTREMES, GENERIC, SceneVocabulary, value_parts

MAX_DEPTH = 3
MAX_FILTER_VALUES = 3
SET_OPS = {"filter", "relate", "and", "or", "except", "select", *EXTREMES}
COUNT_COMPARE = ("more", "fewer", "equal")
NUMBER_COMPARE = ("more_than", "fewer_than", "exactly")
SAME = ("same", "different")


class _Flattener:
    """Appends the steps of an expression, innermost first; each method returns the index of its result."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.sources: list[Any] = []  # the sub-expression each step came from, for error messages

    def add(self, step: dict[str, Any], source: Any) -> int:
        if len(self.steps) >= MAX_STEPS:
            raise ProgramSyntaxError(f"a program has at most {MAX_STEPS} steps; write a shorter expression")
        self.steps.append(step)
        self.sources.append(source)
        return len(self.steps) - 1

    def expr(self, node: Any) -> int:
        if isinstance(node, str):
            return self.add({"op": "select", "label": node}, node)
        if isinstance(node, dict) and len(node) == 1:  # {"count": "circle"}: the op written as the key
            (op, args), = node.items()
            node = [op, *(args if isinstance(args, list) else [args])]
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise ProgramSyntaxError(f'{json.dumps(node)} is not an expression: write a label such as "circle" or '
                                     'a list such as ["count", "circle"]')
        op, args = normalise_op(node[0]), node[1:]
        handler = getattr(self, f"_{op}", None)
        if op in EXTREMES:
            handler = self._extreme
        elif op in COUNT_COMPARE:
            handler = self._two
        elif op in NUMBER_COMPARE:
            handler = self._compare_number
        elif op in SAME:
            handler = self._same
        if handler is None:
            raise UnknownOperation(f"unknown op {node[0]!r} in {json.dumps(node)}")
        return handler(op, args, node)

    @staticmethod
    def _arity(node: Any, args: list[Any], *counts: int) -> None:
        if len(args) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise ProgramSyntaxError(f"{json.dumps(node)}: {node[0]} takes {want} argument(s), got {len(args)}")

    def _select(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 1)
        return self.add({"op": "select", "label": args[0]}, node)

    def _filter(self, op: str, args: list[Any], node: Any) -> int:
        """``["filter", set, "large", "red"]``: one filter step per value; each value names its own attribute."""
        if len(args) < 2:
            self._arity(node, args, 2)
        index = self.expr(args[0])
        for value in args[1:]:
            index = self.add({"op": "filter", "input": index, "attribute": "", "value": value}, node)
        return index

    def _relate(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 3)
        subject, relation, reference = args
        if isinstance(subject, str):  # the common case is one step: the objects with this label in relation
            ref = self.expr(reference)
            return self.add({"op": "relate", "input": ref, "relation": relation, "label": subject}, node)
        first = self.expr(subject)
        ref = self.expr(reference)
        related = self.add({"op": "relate", "input": ref, "relation": relation, "label": GENERIC}, node)
        return self.add({"op": "and", "input": first, "other": related}, node)

    def _extreme(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 1)
        return self.add({"op": op, "input": self.expr(args[0])}, node)

    def _two(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 2)
        a = self.expr(args[0])
        return self.add({"op": op, "input": a, "other": self.expr(args[1])}, node)

    _and = _or = _except = _two

    def _one(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 1)
        return self.add({"op": op, "input": self.expr(args[0])}, node)

    _count = _exist = _not = _one

    def _query(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 2)
        return self.add({"op": "query", "input": self.expr(args[0]), "attribute": args[1]}, node)

    def _verify(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 3)
        a = self.expr(args[0])
        return self.add({"op": "verify", "input": a, "relation": args[1], "other": self.expr(args[2])}, node)

    def _compare_number(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 2)
        return self.add({"op": op, "input": self.expr(args[0]), "number": args[1]}, node)

    def _same(self, op: str, args: list[Any], node: Any) -> int:
        self._arity(node, args, 2, 3)
        step = {"op": op, "input": self.expr(args[0]), "attribute": args[1]}
        if len(args) == 3:
            step["other"] = self.expr(args[2])
        return self.add(step, node)

    def _unsupported(self, op: str, args: list[Any], node: Any) -> int:
        return self.add({"op": "unsupported"}, node)


def read_compact(source: str | bytes | list[Any] | dict[str, Any]) -> Any:
    """The expression in an LLM reply: the JSON itself, or the value of a ``program``/``expression`` key."""
    data = _loads(source.decode() if isinstance(source, bytes) else source) if isinstance(source, (str, bytes)) \
        else source
    if isinstance(data, dict):
        for key in ("program", "expression", "answer", "query"):
            if key in data:
                return data[key]
    return data


def flatten(expression: Any) -> list[dict[str, Any]]:
    """The step list of a compact expression (innermost first, the last step is the answer).

    Raises:
        QueryError: the expression is malformed; the message quotes the sub-expression.
    """
    if isinstance(expression, dict) and "steps" in expression:
        return list(expression["steps"])  # the flat form, accepted as written
    flattener = _Flattener()
    flattener.expr(expression)
    return flattener.steps


def parse_compact(source: str | bytes | list[Any] | dict[str, Any],
                  vocabulary: SceneVocabulary | None = None) -> QueryProgram:
    """Read a compact expression (or a flat ``{"steps": [...]}`` program) into a checked ``QueryProgram``; with
    ``vocabulary``, its names are checked against the scene too (``check_vocabulary``).

    Raises:
        QueryError: malformed, unknown op, relation, label or value, or a type mismatch; the message names the
            sub-expression (step numbers mean nothing to a model that wrote no steps).
    """
    expression = read_compact(source)
    if isinstance(expression, dict) and "steps" in expression:
        program = parse_program(expression)
        return program if vocabulary is None else check_vocabulary(program, vocabulary)
    flattener = _Flattener()
    flattener.expr(expression)
    try:
        program = parse_program(flattener.steps)
        return program if vocabulary is None else check_vocabulary(program, vocabulary)
    except QueryError as exc:
        if exc.step is not None and exc.step < len(flattener.sources):
            where = json.dumps(flattener.sources[exc.step])
            raise type(exc)(f"in {where}: {_without_step_numbers(str(exc))}") from None
        raise


def _without_step_numbers(message: str) -> str:
    """Step numbers mean nothing in the compact form: "step 2 (count) gives number" -> "count gives number"."""
    message = re.sub(r"^step \d+: ", "", message)
    return re.sub(r"step \d+ \((\w+)\)", r"\1", message)


def nest(program: QueryProgram | list[dict[str, Any]]) -> Any:
    """The compact expression of a flat program (its last step), for prompts and traces."""
    steps = [s.model_dump(mode="json", exclude_none=True) for s in program.steps] \
        if isinstance(program, QueryProgram) else program

    def node(i: int) -> Any:
        s = steps[i]
        op = s["op"]
        if op == "select":
            return s["label"]
        if op == "filter":
            inner = node(s["input"])
            if isinstance(inner, list) and inner[0] == "filter" and len(inner) < 2 + MAX_FILTER_VALUES:
                return [*inner, s["value"]]  # a filter chain is one filter with several values
            return ["filter", inner, s["value"]]
        if op == "relate":
            return ["relate", s["label"], s["relation"], node(s["input"])]
        if op in EXTREMES or op in ("count", "exist", "not"):
            return [op, node(s["input"])]
        if op in ("and", "or", "except", *COUNT_COMPARE):
            return [op, node(s["input"]), node(s["other"])]
        if op == "query":
            return ["query", node(s["input"]), s["attribute"]]
        if op == "verify":
            return ["verify", node(s["input"]), s["relation"], node(s["other"])]
        if op in NUMBER_COMPARE:
            return [op, node(s["input"]), s["number"]]
        if op in SAME:
            out = [op, node(s["input"]), s["attribute"]]
            return out + [node(s["other"])] if s.get("other") is not None else out
        return [op]

    return node(len(steps) - 1)


def unused_names(program: QueryProgram, allowed: Allowed) -> list[str]:
    """Labels and values the question names that the program never uses ("a large yellow metal shape" written as
    ``["exist", ["filter", "object", "large"]]`` leaves out yellow and metal). Values of an attribute the program
    asks about are exempt ("Is it metal or rubber?" -> query material), and so are the parts of a compound value
    it uses (top and left of top-left)."""
    steps = program.steps
    if any(s.op == "unsupported" for s in steps):  # "the objects cannot answer this" uses no names
        return []
    used = {getattr(s, "label", None) for s in steps} | {getattr(s, "value", None) for s in steps}
    asked = {s.attribute for s in steps if s.op in ("query", "same", "different")}
    used_parts = {p for v in used if isinstance(v, str) for p in value_parts(v)}
    missing = []
    for label in allowed.all_labels or []:
        if label != GENERIC and label not in used:
            missing.append(label)
    for value in allowed.values:
        parts = value_parts(value)
        covered = value in used or value in used_parts or (len(parts) > 1 and set(parts) <= used)
        if not covered and not set(allowed.keys_of.get(value, [])) & asked:
            missing.append(value)
    return missing


def to_text(expression: Any) -> str:
    """The compact JSON text, as the worked examples show it and the model writes it."""
    return json.dumps(expression, separators=(",", ":"))


# The grammar ----------------------------------------------------------------------------------------------

def _enum(values: list[Any]) -> dict[str, Any]:
    return {"const": values[0]} if len(values) == 1 else {"enum": list(values)}


def _tuple(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "prefixItems": list(items), "items": False, "minItems": len(items),
            "maxItems": len(items)}


UNSUPPORTED = _tuple({"const": "unsupported"})  # the branch of a question the objects cannot answer


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


class _SchemaBuilder:
    """Builds ``$defs`` for one question: label kinds (any, subject, reference) × set depths, then the answers."""

    def __init__(self, allowed: Allowed, numbers: list[int] | None, *, question: bool):
        self.allowed = allowed
        self.numbers = numbers
        self.question = question
        self.defs: dict[str, Any] = {}

    def labels(self, kind: str) -> dict[str, Any]:
        a = self.allowed
        if a.mentions:
            return self.phrases(kind)
        names = {"any": a.all_labels, "subject": a.relate_labels, "reference": a.reference_labels}.get(kind)
        if names is None:
            names = a.all_labels
        return {"type": "string"} if names is None else _enum(names)

    def phrases(self, kind: str) -> dict[str, Any]:
        """The question's noun phrases as sets, exactly as named: "the red object" is ``["filter", "object",
        "red"]``, never a bare ``"object"`` (a small model was seen dropping the values). ``first`` and
        ``second`` are the two sides of a comparison, ``subject`` and ``reference`` of a relation."""
        mentions = self.allowed.mentions
        relation, negation = self.allowed.relation_position, self.allowed.negation_position
        chosen = {
            "any": mentions,
            "first": mentions[:-1] if len(mentions) > 1 else mentions,
            "second": mentions[1:] if len(mentions) > 1 else mentions,
            "subject": [m for m in mentions if relation is None or m.position < relation],
            "reference": [m for m in mentions if relation is None or m.position > relation],
            "kept": [m for m in mentions if negation is None or m.position < negation],
            "negated": [m for m in mentions if negation is not None and m.position > negation],
        }[kind]
        forms = _forms(chosen)
        if kind == "negated" and not chosen and self.allowed.negated_values:
            # "objects that are not large": no noun after the negation, so the kept nouns with the negated values
            forms = _forms([m.model_copy(update={"values": self.allowed.negated_values}) for m in mentions])
        forms = forms or _forms(mentions)
        return forms[0] if len(forms) == 1 else {"anyOf": forms}

    def set_def(self, kind: str, depth: int) -> str:
        """The name of the definition of a set of ``kind`` labels nested at most ``depth`` deep."""
        name = f"{kind}{depth}"
        if name in self.defs:
            return name
        self.defs[name] = {}  # reserved before recursion
        branches: list[dict[str, Any]] = [self.labels(kind)]
        if depth > 0:
            inner = _ref(self.set_def(kind, depth - 1))
            values = self.allowed.free_values if self.allowed.mentions else self.allowed.values
            if values:
                value = _enum(values)
                for n in range(1, min(MAX_FILTER_VALUES, len(values)) + 1):
                    branches.append(_tuple({"const": "filter"}, inner, *[value] * n))
            if self.allowed.relations and kind not in ("subject", "reference"):  # no relation chains: seen looping
                branches.append(_tuple({"const": "relate"}, _ref(self.set_def("subject", depth - 1)),
                                       _enum(self.allowed.relations), _ref(self.set_def("reference", depth - 1))))
            if self.allowed.named_extremes:
                branches.append(_tuple(_enum(self.allowed.named_extremes), inner))
            set_logic = [op for op in ("or", "except") if op in self.allowed.logic]  # "and" of sets: a filter chain
            if set_logic:
                branches.append(_tuple(_enum(set_logic), inner, inner))
        self.defs[name] = {"anyOf": branches} if len(branches) > 1 else branches[0]
        return name

    def yes_no_branches(self, kind: str = "any") -> list[dict[str, Any]]:
        a, top = self.allowed, _ref(self.set_def("any", MAX_DEPTH))
        out = [_tuple({"const": "exist"}, _ref(self.set_def(kind, MAX_DEPTH)))]
        if a.relations and "verify" not in a.excluded_ops:
            out.append(_tuple({"const": "verify"}, _ref(self.set_def("subject", MAX_DEPTH)), _enum(a.relations),
                              _ref(self.set_def("reference", MAX_DEPTH))))
        first, second = _ref(self.set_def("first", MAX_DEPTH)), _ref(self.set_def("second", MAX_DEPTH))
        if a.count_compare:
            out.append(_tuple(_enum(a.count_compare), first, second))
        if self.numbers is None:
            out.append(_tuple(_enum(list(NUMBER_COMPARE)), top, {"type": "integer", "minimum": 0}))
        elif self.numbers:  # "more than three": a number named; without one, two sets are compared
            out.append(_tuple(_enum(list(NUMBER_COMPARE)), top, _enum(self.numbers)))
        if a.same_ops and len(a.mentions) < 2:  # "are all the squares the same color?"
            out.append(_tuple(_enum(a.same_ops), top, _enum(a.query_keys)))
        if a.same_ops and (len(a.mentions) >= 2 or not self.question):  # "the circle ... the same color as ..."
            out.append(_tuple(_enum(a.same_ops), first, _enum(a.query_keys), second))
        return _allowed_branches(out, a.excluded_ops)

    def root(self) -> dict[str, Any]:
        a = self.allowed
        if self.question and not a.names_objects and "unsupported" not in a.excluded_ops:
            # "What color is the background?", "Is this a photo or a drawing?": nothing the experts name; the
            # model was seen answering about the objects anyway
            return {"anyOf": [UNSUPPORTED]}
        top = _ref(self.set_def("any", MAX_DEPTH))
        for kind in ("any", "first", "second"):  # "is there an A or a B?": A on the left, B on the right
            if yes_no := self.yes_no_branches(kind):  # none: a choice question, answered only by a query
                self.defs[f"yesno_{kind}"] = {"anyOf": yes_no}
        # A question that negates ("not red", "isn't") must say so: what it counts, finds or asks about is an
        # except (of what it keeps, what it negates), or the whole answer is a not. The model was seen dropping
        # the negation otherwise.
        negated = "except" in a.logic and self.question
        subject = top if not negated else _tuple({"const": "except"}, _ref(self.set_def("kept", MAX_DEPTH - 1)),
                                                 _ref(self.set_def("negated", MAX_DEPTH - 1)))
        branches = [_tuple({"const": "count"}, subject), _tuple({"const": "query"}, subject, _enum(a.query_keys)),
                    _tuple({"const": "exist"}, subject)]
        branches += [b for b in self.yes_no_branches() if _head_ops(b) != ["exist"]]
        if "not" in a.logic and "yesno_any" in self.defs:
            branches.append(_tuple({"const": "not"}, _ref("yesno_any")))
        joins = [op for op in ("and", "or") if op in a.logic]  # only the join the question's words make
        if joins and "yesno_first" in self.defs:
            branches.append(_tuple(_enum(joins), _ref("yesno_first"), _ref("yesno_second")))
        if "unsupported" not in a.excluded_ops:
            branches.append(UNSUPPORTED)
        kept = _allowed_branches(branches, a.excluded_ops) or [UNSUPPORTED]
        return {"anyOf": kept, "$defs": self.defs}


def _forms(mentions: list[Mention]) -> list[dict[str, Any]]:
    """Each noun phrase as a set schema: a label, or a filter of it by exactly the values named with it."""
    forms: list[dict[str, Any]] = []
    for m in mentions:
        form = {"const": m.label} if not m.values else _tuple({"const": "filter"}, {"const": m.label},
                                                               *[{"const": v} for v in m.values])
        if form not in forms:
            forms.append(form)
    return forms


def _allowed_branches(branches: list[dict[str, Any]], excluded: list[str]) -> list[dict[str, Any]]:
    """The branches whose head op is not excluded; a head that is an enum of ops keeps its allowed ones."""
    out = []
    for branch in branches:
        ops = [op for op in _head_ops(branch) if op not in excluded]
        if ops:
            items = [_enum(ops), *branch["prefixItems"][1:]]
            out.append({**branch, "prefixItems": items})
    return out


def _head_ops(branch: dict[str, Any]) -> list[str]:
    head = branch["prefixItems"][0]
    return [head["const"]] if "const" in head else list(head["enum"])


def compact_schema(vocabulary: SceneVocabulary, question: str | None = None, *,
                   allowed: Allowed | None = None) -> dict[str, Any]:
    """The JSON schema of a compact expression over this scene, narrowed to ``question`` when given.

    Usable as a llama.cpp JSON-schema grammar (``prefixItems`` tuples, ``$defs``) and by ``jsonschema``
    validators (draft 2020-12).
    """
    allowed = allowed or allowed_names(vocabulary, question)  # given: the caller narrowed the question once
    numbers = question_numbers(question) if question else None
    return _SchemaBuilder(allowed, numbers, question=question is not None).root()


__all__ = ["MAX_DEPTH", "UNSUPPORTED", "compact_schema", "flatten", "nest", "parse_compact", "read_compact", "to_text",
           "unused_names"]
