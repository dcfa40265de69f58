"""Results records shaped exactly like a query-mode run's, built from a dataset without running anything: input
for the HTML report's tests, benchmark and screenshots at sizes no test can afford to run (300 rows).

Each record carries a real typed trace (``lavr.trace`` steps): the scene graph of the row's precomputed
detections (boxes and all), a planner turn with a query-language program, the query's output naming its
evidence objects, and the final answer. The answer is the expected one, or (``wrong_share`` of the rows, chosen
by a seeded random generator) a wrong one or "cannot tell"; latency and token counts are drawn too.
"""

from __future__ import annotations

import random
from typing import Any

from ..planners import CANNOT_TELL
from ..schema import Usage
from ..trace import AnswerStep, PlanStep, ToolStep
from .dataset import EvalDataset
from .groups import GroupOptions, base_record

__all__ = ["sample_results"]

_WRONG = {"yes": "no", "no": "yes"}


def _wrong(expected: str) -> str:
    """An answer of the same kind that differs from ``expected``."""
    if expected in _WRONG:
        return _WRONG[expected]
    if expected.isdigit():
        return str(int(expected) + 1)
    return "red" if expected != "red" else "blue"


def _nodes(row_precomputed: dict[str, Any]) -> list[dict[str, Any]]:
    detections = (row_precomputed.get("detect") or {}).get("detections") or []
    out = []
    for i, d in enumerate(detections):
        x1, y1, x2, y2 = d["box"]
        out.append({"id": f"obj_{i}", "label": d["label"], "box": {"x1": x1, "y1": y1, "x2": x2, "y2": y2},
                    "attributes": dict(d.get("attributes") or {})})
    return out


def _trace(question: str, answer: str, nodes: list[dict[str, Any]], rng: random.Random,
           usage: Usage) -> list[dict[str, Any]]:
    """scene_graph -> plan (a program) -> query -> answer, as the query planner records them."""
    label = nodes[0]["label"] if nodes else "object"
    chosen = [n["id"] for n in nodes if n["label"] == label][:3]
    program = f"count(all({label}))"
    scene_text = "\n".join(f"{n['id']} {n['label']} {n['attributes']}" for n in nodes)
    steps = [
        ToolStep(index=0, seconds=0.004, tool="scene_graph", args={"image": "img_0"}, call_id="scene",
                 result=f"scene graph of img_0: {len(nodes)} objects\n{scene_text}",
                 data={"image": "img_0", "nodes": nodes, "edges": []}),
        PlanStep(index=1, seconds=round(rng.uniform(0.3, 1.5), 3), planner="query", thought=question,
                 program=program, usage=usage, raw_reply=f" {program}"),
        ToolStep(index=2, seconds=0.002, tool="query", args={"image": "img_0", "program": program}, call_id="query_2",
                 result=f"query on img_0: answer: {answer}",
                 data={"answer": answer, "answer_type": "number", "evidence": chosen, "program": program,
                       "words": f"the number of {label}s", "rationale": "counted"}),
        AnswerStep(index=3, answer=answer, rationale=f"the {label}s: {', '.join(chosen)}", evidence=chosen),
    ]
    return [s.model_dump(mode="json", exclude_none=True) for s in steps]


def sample_results(dataset: EvalDataset, *, n: int, wrong_share: float = 0.35, abstain_share: float = 0.1,
                   seed: int = 0) -> list[dict[str, Any]]:
    """``n`` records over the dataset's first ``n`` good rows (cycling when it has fewer).

    Args:
        dataset: A loaded dataset (its rows' precomputed detections give the boxes).
        n: How many records.
        wrong_share: Share of rows answered wrongly.
        abstain_share: Share of rows answered "cannot tell" (wrong, not confidently).
        seed: The generator's seed.
    """
    rng = random.Random(seed)
    opts = GroupOptions(metric="exact_match", seed=seed, root=dataset.root)
    rows = [r for r in dataset.rows if r.ok]
    records = []
    for k in range(n):
        row = rows[k % len(rows)]
        record = base_record(row, opts)
        if k >= len(rows):
            record["id"] = f"{row.id}#{k // len(rows)}"
        expected = str(row.answers[0])
        draw = rng.random()
        if draw < abstain_share:
            answer = CANNOT_TELL
        elif draw < abstain_share + wrong_share:
            answer = _wrong(expected)
        else:
            answer = expected
        usage = Usage(prompt_tokens=2080 + rng.randint(0, 40), completion_tokens=rng.randint(6, 30), llm_calls=1,
                      cached_prompt_tokens=2060)
        record.update(prediction=answer, raw_answer=answer, score=1.0 if answer == expected else 0.0,
                      seconds=round(rng.lognormvariate(0.5, 0.35), 3), usage=usage.model_dump(),
                      tools=["scene_graph", "query"], steps=4, finished="answered", mode="query",
                      llm="sample", trace=_trace(row.question, answer, _nodes(row.precomputed or {}), rng, usage))
        records.append(record)
    return records
