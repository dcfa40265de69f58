"""Program mode (VisProg / ViperGPT style): one LLM call writes the whole plan, lavr validates and runs it, and
one more LLM call composes the answer from the observations."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from ..backends.base import Message
from ..planners.base import ImageInfo, PlanRequest
from ..planners.parsing import InvalidReply
from ..planners.program import ProgramPlanner, parse_program
from ..planners.react import decision_schema
from ..programs import Program, validate_program
from ..schema import Answer, Step
from ..tools.base import RunContext, Tool
from .agent import Agent
from .graph import CANNOT_TELL
from .runtime import execute_steps, make_answer, request_answer

logger = logging.getLogger(__name__)

ANSWER_FORMAT = '{"thought": "...", "answer": "<short answer>", "rationale": "..."}'


class ProgramAgent(Agent):
    """Answers with a whole program written at once instead of step-by-step ReAct turns.

    Same constructor, cache and trace types as ``Agent``. The flow of one question:

    1. One LLM call writes ``{"thought", "program": [{"id", "tool", "args"}, ...]}`` (JSON-schema constrained);
       arguments may reference earlier steps' outputs (``"$s1.detections[0].id"``, see ``lavr.programs``).
    2. The program is validated before anything runs (tools, argument names and values, references, at most
       ``settings.max_steps`` steps). An invalid program goes back to the LLM as a structured error and is
       rewritten, at most ``settings.max_retries`` times; each rejected reply is a ``retry`` step.
    3. The steps run in order (independent steps on different images in parallel); a failed tool is recorded
       and the run goes on.
    4. One more LLM call composes ``{"thought", "answer", "rationale"}`` from the observations ("cannot tell"
       when they do not establish it). Malformed replies use what is left of the retry budget.

    The trace is ``plan`` (``data={"program": [...], "examples": [...]}``), the ``tool`` steps (``call_id`` is
    the program step id), then ``answer``. ``thread_id`` is accepted for the ``ask`` signature but program mode
    keeps no LangGraph checkpoint; earlier chat turns still reach the prompt through ``history``.
    """

    mode = "program"

    @functools.cached_property
    def program_planner(self) -> ProgramPlanner:
        return ProgramPlanner(self.backend, num_examples=self.settings.num_examples,
                              max_tokens=self.settings.llm_max_tokens, max_steps=self.settings.max_steps)

    def _run(self, ctx: RunContext, image_ids: list[str], question: str, history: list[tuple[str, str]],
             start: float, thread_id: str | None) -> Answer:
        tools = self.registry.available()
        request = PlanRequest(question=question, images=[ImageInfo(**i) for i in self._image_infos(ctx, image_ids)],
                              tools=tools, steps=[], steps_left=self.settings.max_steps,
                              retries_left=self.settings.max_retries, history=history)
        base, example_ids = self.program_planner.conversation(request)
        steps: list[Step] = []
        program = self._write(base, tools, example_ids, steps) if tools else Program()
        finish: dict[str, Any] = {"question": question, "image": image_ids[0], "start": start,
                                  "backend": self.backend}
        if program is None:
            return make_answer(answer=CANNOT_TELL, rationale="the planner wrote no valid program within its retry "
                               "budget", steps=steps, finished="budget_exhausted", **finish)
        steps += execute_steps(program.steps, self.executor, ctx, first_index=len(steps), outputs={})
        used = sum(1 for s in steps if s.kind == "retry")
        messages = self.program_planner.compose_messages(base, program if tools else None,
                                                         [s for s in steps if s.kind == "tool"])
        decision, composed = request_answer(
            self.backend, messages, schema=decision_schema([], force_answer=True), reply_format=ANSWER_FORMAT,
            attempts=self.settings.max_retries + 1 - used, max_tokens=self.settings.llm_max_tokens,
            first_index=len(steps))
        steps += composed
        if decision is None:
            return make_answer(answer=CANNOT_TELL, rationale="the answer reply was unusable within the retry budget",
                               steps=steps, finished="budget_exhausted", **finish)
        return make_answer(answer=decision.answer or CANNOT_TELL, rationale=decision.rationale, steps=steps,
                           finished="answered", **finish)

    def _write(self, base: list[Message], tools: list[Tool], example_ids: list[str],
               steps: list[Step]) -> Program | None:
        """Ask for a program until one validates or the retry budget is spent; appends plan/retry steps."""
        by_name = {t.name: t for t in tools}
        messages = list(base)
        attempts = self.settings.max_retries + 1
        for n in range(attempts):
            begin = time.perf_counter()
            reply = self.program_planner.write(messages, tools)
            seconds = round(time.perf_counter() - begin, 4)
            try:
                program = parse_program(reply.text)
                problems = validate_program(program, by_name, max_steps=self.settings.max_steps)
            except InvalidReply as exc:
                program, problems = None, [str(exc)]
            if program is not None and not problems:
                steps.append(Step(index=len(steps), kind="plan", thought=program.thought or None,
                                  raw_reply=reply.text, usage=reply.usage, seconds=seconds,
                                  data={"program": [s.model_dump() for s in program.steps],
                                        "examples": example_ids}))
                return program
            logger.info("program rejected: %s", "; ".join(problems))
            steps.append(Step(index=len(steps), kind="retry", raw_reply=reply.text, error="; ".join(problems),
                              usage=reply.usage, seconds=seconds, data={"problems": problems}))
            messages += self.program_planner.feedback(reply.text, problems, retries_left=attempts - n - 1)
        return None
