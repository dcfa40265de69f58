"""Query mode: the LLM translates the question into one short program of the query language (its compact form,
one nested JSON expression: ``lavr.tools.query.compact``), in one constrained call; the ``query`` tool executes it exactly on the scene graph and its result is the answer (no second call).

The moves, read from the trace:
1. No scene yet: ``scene_graph`` on the image (no LLM): what the experts can name here.
2. Write the program: the static prefix (system text, the language, fixed worked examples: byte-identical, so
   llama.cpp reuses or loads its KV state) plus one short message (what the experts found, the question),
   under a JSON-schema grammar narrowed to the question's words. Then ``query`` runs it.
3. The query's result is the answer, with a rationale rendered from the executed steps naming the evidence.

A program that does not parse or names what the scene does not have is fed back once as a typed error; after a
second failure, or when the LLM says the question is ``unsupported`` (it needs more than the objects: a caption,
text), the ReAct planner takes over with every tool.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from ...backends.base import LLMBackend, Message
from ...schema import ToolCall
from ...tools.query import QueryError, SceneVocabulary, allowed_names
from ...tools.query.compact import UNSUPPORTED, compact_schema, parse_compact, unused_names
from ...trace import PlanStep, RetryStep, Step, ToolStep
from ..base import CallTools, Final, PlanOutcome, PlanRequest
from ..react import ReactPlanner
from .prompt import QueryPrompt

logger = logging.getLogger(__name__)

SCENE_TOOL, QUERY_TOOL = "scene_graph", "query"
MAX_WRITES = 2  # the first program and one rewrite after its error was fed back
PROGRAM_MAX_TOKENS = 80  # the compact form: 5-30 tokens; a longer reply is a model gone astray


class QueryPlanner:
    """Translates questions into query programs; falls back to ``fallback`` (ReAct) where the language cannot."""

    name = "query"

    def __init__(self, *, fallback: ReactPlanner | None = None, max_tokens: int = PROGRAM_MAX_TOKENS,
                 prompt: QueryPrompt | None = None):
        self.fallback = fallback or ReactPlanner()
        self.max_tokens = max_tokens
        self.prompt = prompt or QueryPrompt()
        self.calls_per_turn = self.fallback.calls_per_turn
        self._warmed = False

    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        tools = {t.name for t in request.tools}
        if not {SCENE_TOOL, QUERY_TOOL} <= tools or self._handed_over(request.steps):
            return self.fallback.decide(self._fallback_request(request), llm)
        image = request.images[0].id
        scenes = [s for s in request.steps if isinstance(s, ToolStep) and s.tool == SCENE_TOOL]
        if not scenes:
            self._warm_up(llm)
            return PlanOutcome(move=CallTools(calls=[ToolCall(tool=SCENE_TOOL, args={"image": image}, id="scene")],
                                              thought="what the experts can name in the image"))
        queries = [s for s in request.steps if isinstance(s, ToolStep) and s.tool == QUERY_TOOL]
        if queries and queries[-1].ok:
            data = queries[-1].data or {}
            # computed by the tool, not said by the LLM: passed through whole (verbatim), never shortened
            return PlanOutcome(move=Final(answer=str(data.get("answer", "")), rationale=str(data.get("rationale", "")),
                                          evidence=list(data.get("evidence", [])), thought="the program's result",
                                          verbatim=True))
        if scenes[-1].error is not None or request.force_answer:
            return self.fallback.decide(self._fallback_request(request), llm)
        return self._write(request, llm, SceneVocabulary.from_scene(scenes[-1].data or {}), image)

    def _warm_up(self, llm: LLMBackend) -> None:
        """Load the model and its prefix state in the background while the experts build the scene graph (a new
        process overlaps the two instead of paying for both in turn). The program call primes again: it then
        finds the state in memory, or waits for this thread to finish; a failure here is only logged (that call
        raises it where it counts)."""
        prime = getattr(llm, "prime", None)
        if prime is None or self._warmed:  # after the first question the model stays loaded: nothing to overlap
            return
        self._warmed = True

        def run() -> None:
            try:
                prime(self.prompt.prefix_messages())
            except Exception as exc:  # noqa: BLE001 - reported by the program call's own prime
                logger.info("prefix warm-up failed: %s", exc)

        threading.Thread(target=run, name="lavr-llm-warm-up", daemon=True).start()

    # Writing the program ---------------------------------------------------------------------------------
    def _write(self, request: PlanRequest, llm: LLMBackend, vocabulary: SceneVocabulary, image: str) -> PlanOutcome:
        messages = self.prompt.messages(request.question, vocabulary)
        failure = self._last_failure(request.steps)
        if failure is not None:  # fed back once: the rejected program and what was wrong with it
            raw, error = failure
            messages += [Message(role="assistant", content=raw[:1000]),
                         Message(role="user", content=json.dumps({"error": "invalid_program", "detail": error})
                                 + "\nWrite the corrected program.")]
        allowed = allowed_names(vocabulary, request.question)  # once: the grammar and the omission check share it
        schema = compact_schema(vocabulary, request.question, allowed=allowed)
        if schema["anyOf"] == [UNSUPPORTED]:  # "What color is the background?": nothing for the LLM to choose
            return PlanOutcome(move=CallTools(
                calls=[ToolCall(tool=QUERY_TOOL, args={"image": image, "steps": [{"op": "unsupported"}]},
                                id=f"query_{len(request.steps)}")],
                thought="the question names no object the experts found: the query language cannot answer it",
                program=[{"op": "unsupported"}]))
        prime = getattr(llm, "prime", None)
        if prime is not None and failure is None:
            prime(self.prompt.prefix_messages())  # the prefix's KV state: kept, loaded from disk, or computed once
        reply = llm.generate(messages, json_schema=schema, max_tokens=self.max_tokens, repeat_penalty=1.0)
        outcome = PlanOutcome(move=None, raw_reply=reply.text, usage=reply.usage)
        try:
            program = parse_compact(reply.text, vocabulary)
        except QueryError as exc:
            outcome.error, outcome.problems = str(exc), [str(exc)]
            return outcome
        missing = unused_names(program, allowed)
        if missing and failure is None:  # fed back once; a rewrite that still leaves them out is run as written
            outcome.error = (f"the question names {', '.join(repr(m) for m in missing)} but the program does not "
                             "use them; use every label and value the question names")
            outcome.problems = [outcome.error]
            return outcome
        steps = [s.model_dump(mode="json", exclude_none=True) for s in program.steps]
        outcome.move = CallTools(calls=[ToolCall(tool=QUERY_TOOL, args={"image": image, "steps": steps},
                                                 id=f"query_{len(request.steps)}")],
                                 thought=request.question, program=steps)
        return outcome

    # Where the run stands ----------------------------------------------------------------------------------
    @staticmethod
    def _failures(steps: list[Step]) -> list[tuple[str, str]]:
        """(reply, error) of every rejected or failed program so far."""
        failures: list[tuple[str, str]] = []
        last_reply = ""
        for s in steps:
            if isinstance(s, RetryStep):
                failures.append((s.raw_reply or "", s.error))
            elif isinstance(s, PlanStep):
                last_reply = s.raw_reply or ""
            elif isinstance(s, ToolStep) and s.tool == QUERY_TOOL and s.error is not None:
                failures.append((last_reply, s.error))
        return failures

    def _last_failure(self, steps: list[Step]) -> tuple[str, str] | None:
        failures = self._failures(steps)
        return failures[-1] if failures else None

    def _handed_over(self, steps: list[Step]) -> bool:
        unsupported = any(isinstance(s, ToolStep) and s.tool == QUERY_TOOL and s.ok
                          and (s.data or {}).get("answer_type") == "unsupported" for s in steps)
        return unsupported or len(self._failures(steps)) >= MAX_WRITES

    @staticmethod
    def _fallback_request(request: PlanRequest) -> PlanRequest:
        """ReAct sees its own turns only: the query attempts stay in the trace but not in its prompt."""
        last_query = max((s.index for s in request.steps if isinstance(s, RetryStep)
                          or (isinstance(s, (ToolStep, PlanStep)) and _is_query_step(s))), default=-1)
        later: list[Any] = [s for s in request.steps if s.index > last_query]
        return PlanRequest(question=request.question, images=request.images, tools=request.tools, steps=later,
                           steps_left=request.steps_left, retries_left=request.retries_left,
                           force_answer=request.force_answer, history=request.history)


def _is_query_step(step: Any) -> bool:
    if isinstance(step, ToolStep):
        return step.tool in (QUERY_TOOL, SCENE_TOOL) and (step.call_id or "").startswith(("query_", "scene"))
    return isinstance(step, PlanStep) and step.planner == QueryPlanner.name and \
        any(c.tool == QUERY_TOOL for c in step.tool_calls) and step.program is not None
