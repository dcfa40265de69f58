"""Turn executed steps into the short answer, its type and a rationale that names the evidence objects.

Nothing here is written by the LLM: the rationale follows the executed steps, so it cannot contradict them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from .language import Combine, Except, Extreme, Filter, QueryProgram, Relate, Select
from .results import Execution, Problem, StepResult
from .vocabulary import GENERIC, LABEL_KEY, normalise_label

RELATION_WORDS = {"left_of": "left of", "right_of": "right of", "above": "above", "below": "below",
                  "near": "near", "inside": "inside", "contains": "containing", "in_front_of": "in front of",
                  "behind": "behind", "overlaps": "overlapping"}
IRREGULAR_PLURALS = {"person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
                     "foot": "feet", "knife": "knives", "sheep": "sheep", "fish": "fish"}


def plural(noun: str) -> str:
    """English plural of a (last) word: ``person`` -> ``people``, ``bus`` -> ``buses``, ``sky`` -> ``skies``."""
    head, _, last = noun.rpartition(" ")
    if last in IRREGULAR_PLURALS:
        out = IRREGULAR_PLURALS[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        out = last + "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        out = last[:-1] + "ies"
    else:
        out = last + "s"
    return f"{head} {out}" if head else out


@dataclass(frozen=True)
class Phrase:
    """A noun phrase for a selection: adjectives, a head noun and trailing modifiers."""

    noun: str = GENERIC
    adjectives: tuple[str, ...] = ()
    tail: tuple[str, ...] = field(default=())

    def text(self, *, many: bool = False) -> str:
        noun = plural(self.noun) if many else self.noun
        return " ".join([*self.adjectives, noun, *self.tail])


def phrases(program: QueryProgram) -> list[Phrase | None]:
    """A phrase for every objects step (None for other steps), built from the program alone."""
    out: list[Phrase | None] = []
    for step in program.steps:
        base = out[step.input] if hasattr(step, "input") and step.input is not None else None
        base = base or Phrase()
        if isinstance(step, Select):
            out.append(Phrase(noun=step.label))
        elif isinstance(step, Filter):
            if step.attribute == LABEL_KEY:
                out.append(replace(base, noun=normalise_label(step.value)))
            elif step.attribute == "position":
                where = step.value if "-" in step.value else f"{step.value} side"
                out.append(replace(base, tail=(*base.tail, f"at the {where}")))
            else:
                out.append(replace(base, adjectives=(*base.adjectives, step.value)))
        elif isinstance(step, Relate):
            out.append(Phrase(noun=step.label, tail=(f"{RELATION_WORDS[step.relation]} the {base.text()}",)))
        elif isinstance(step, Extreme):
            out.append(replace(base, adjectives=(step.op, *base.adjectives)))
        elif isinstance(step, (Combine, Except)):
            other = out[step.other]
            joiner = {"and": "that are also", "or": "or", "except": "other than"}[step.op]
            out.append(None if other is None else
                       replace(base, tail=(*base.tail, f"{joiner} {other.text(many=True)}")))
        else:
            out.append(None)
    return out


def _culprit(index: int, program: QueryProgram, results: list[StepResult]) -> int:
    """The earliest step on the way to ``index`` whose selection came out empty (what was not found)."""
    step = program.steps[index]
    for ref in step.refs().values():
        r = results[ref]
        if r.type == "objects" and not r.objects and not isinstance(step, Combine):
            return _culprit(ref, program, results)
    return index


def problem_answer(problem: Problem, program: QueryProgram, results: list[StepResult],
                   names: list[Phrase | None]) -> tuple[str, str]:
    """The answer sentence and answer type for a problem."""
    if problem.kind == "no_attribute":
        return f"cannot tell: {problem.message}", "unknown"
    if problem.kind == "unsupported":
        return f"cannot tell: {problem.message}", "unsupported"
    if problem.kind == "not_found":
        culprit = _culprit(problem.step, program, results)
        phrase = names[culprit] or Phrase()
        return f"no {phrase.text()} found", "not_found"
    phrase = names[problem.step] or Phrase()
    n = len(problem.objects)
    return f"there are {n} {phrase.text(many=True)} ({', '.join(problem.objects)}); which one?", "ambiguous"


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _ids(objects: list[str] | None) -> str:
    return ", ".join(objects or []) or "none"


def step_line(step: Any, res: StepResult, results: list[StepResult]) -> str:
    """One step of the rationale, naming the objects it found or looked at."""
    if res.problem is not None:
        return f"{step.op}: " + (res.problem.message or res.problem.kind.replace("_", " "))
    if res.type == "objects":
        if isinstance(step, Select):
            what = "objects" if step.label == GENERIC else plural(step.label)
        elif isinstance(step, Filter):
            what = f"{step.attribute}={step.value}"
        elif isinstance(step, Relate):
            noun = "objects" if step.label == GENERIC else plural(step.label)
            what = f"{noun} {step.relation} {_ids(results[step.input].objects)}"
        else:
            what = step.op
        return f"{what}: {_ids(res.objects)}"
    if step.op == "count":
        return f"count: {res.value}"
    value = _yes(res.value) if res.type == "boolean" else str(res.value)
    detail = f" ({res.detail})" if res.detail else ""
    label = f"{step.op} {step.attribute}" if step.op in ("query", "same", "different") else step.op
    return f"{label}{detail}: {value}"


def render_execution(program: QueryProgram, results: list[StepResult], graph: nx.MultiDiGraph) -> Execution:
    """The ``Execution`` of a run: answer, answer type, evidence and rationale."""
    names = phrases(program)
    final = results[-1]
    problem = final.problem
    if problem is not None:
        answer, answer_type = problem_answer(problem, program, results, names)
    elif final.type == "number":
        answer, answer_type = str(final.value), "number"
    elif final.type == "boolean":
        answer, answer_type = _yes(final.value), "yes_no"
    elif final.type == "value":
        answer, answer_type = str(final.value), "value"
    else:
        objs = final.objects or []
        labels = [normalise_label(graph.nodes[n]["label"]) for n in objs]
        answer = labels[0] if len(objs) == 1 else ", ".join(f"{lbl} {n}" for lbl, n in zip(labels, objs)) or "none"
        answer_type = "objects"
    # A problem is reported by the step that met it; the steps that only passed it on are left out.
    lines = [step_line(step, res, results) for step, res in zip(program.steps, results)
             if res.problem is None or not any(results[r].problem is res.problem for r in step.refs().values())]
    evidence = final.evidence if problem is None else (problem.objects or final.evidence)
    rationale = "; ".join(lines) + f" -> {answer}"
    return Execution(program=program, steps=results, answer=answer, answer_type=answer_type, rationale=rationale,
                     evidence=list(evidence), problem=problem)
