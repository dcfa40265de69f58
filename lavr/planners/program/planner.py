"""Program mode (VisProg / ViperGPT style): one LLM call writes the whole plan, the runner validates and runs it,
and one more LLM call composes the answer from the observations.

Where a run stands comes from the trace: no accepted program yet -> write one (rejected ones are fed back as
``invalid_program`` errors); the program has run -> compose the answer (a malformed answer is fed back too).
The prompts: the system prompt with each tool's arguments and output fields, and worked programs converted
from the stored ReAct examples."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Mapping

from ...backends.base import LLMBackend, Message
from ...prompts import TemplateFile
from ...prompts.examples import Example
from ...schema import BOX_CONVENTION, ToolCall
from ...tools.base import Tool
from ...trace import PlanStep, RetryStep, ToolStep
from ..base import CANNOT_TELL, CallTools, Final, PlanOutcome, PlanRequest
from ..parsing import InvalidReply, extract_json
from ..prompting import answer_outcome, answer_schema, attached_images, describe_args, examples_for, with_history
from ..tool_profile import FULL, ToolProfile
from .model import Program, ProgramStep, describe_output, output_schema, program_schema, validate_program

TEMPLATES = TemplateFile(__package__, "prompts.yaml")
render_program = TEMPLATES.render
ANSWER_FORMAT = '{"thought": "...", "answer": "<short answer>", "rationale": "..."}'

_OBJECT_ID = re.compile(r"obj_\d+")
_OBJECT_LINE = re.compile(r"^(obj_\d+) ", re.MULTILINE)


def parse_program(text: str) -> Program:
    """Parse a program reply, tolerating neighbouring shapes (``steps``/``plan`` lists, ``name``/``arguments``).

    Raises:
        InvalidReply: with a message meant for the LLM.
    """
    obj = extract_json(text)
    if not isinstance(obj, dict):  # pragma: no cover - extract_json returns the first object
        raise InvalidReply("the reply must be a JSON object")
    raw = next((obj[k] for k in ("program", "steps", "plan") if isinstance(obj.get(k), list)), None)
    if raw is None:
        if "answer" in obj:
            raise InvalidReply("write the program first; you answer after it has run")
        raise InvalidReply('the reply has no "program" list of steps')
    steps = []
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidReply(f'program[{n}] must be an object {{"id", "tool", "args"}}')
        tool = item.get("tool") or item.get("name")
        args = item.get("args", item.get("arguments", {}))
        if not isinstance(tool, str) or not tool.strip():
            raise InvalidReply(f"program[{n}] has no tool name")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise InvalidReply(f"program[{n}].args must be an object")
        steps.append(ProgramStep(id=str(item.get("id") or f"s{n + 1}"), tool=tool.strip(), args=args))
    thought = obj.get("thought") or obj.get("reasoning") or ""
    return Program(thought=thought if isinstance(thought, str) else json.dumps(thought), steps=steps)


def _object_list_field(tool: Tool | None) -> str | None:
    """The output field listing objects with ids (``detections``, ``nodes``), if the tool has one."""
    if tool is None:
        return None
    for name, prop in output_schema(type(tool)).get("properties", {}).items():
        items = prop.get("items", {}) if prop.get("type") == "array" else {}
        if "id" in items.get("properties", {}):
            return name
    return None


def example_program(example: Example, tools: Mapping[str, Tool]) -> tuple[Program, list[dict[str, Any]]]:
    """An example's tool calls as one program, and its stored observations (one per step, in order).

    A literal object id that an earlier step reported (``obj_1``) becomes a reference to where that step's
    output lists it (``$s1.detections[1].id``): a program is written before anything runs.
    """
    steps: list[ProgramStep] = []
    observations: list[dict[str, Any]] = []
    seen: list[tuple[str, str, str]] = []
    renamed: dict[str, str] = {}

    def as_ref(value: Any) -> Any:
        if not (isinstance(value, str) and _OBJECT_ID.fullmatch(value)):
            return value
        for step_id, tool, text in seen:
            ids = _OBJECT_LINE.findall(text)
            field = _object_list_field(tools.get(tool))
            if value in ids and field:
                renamed[value] = f"${step_id}.{field}[{ids.index(value)}].id"
                return renamed[value]
        return value

    for turn in example.turns:
        for call, text in zip(turn.tool_calls, turn.observations):
            step_id = f"s{len(steps) + 1}"
            steps.append(ProgramStep(id=step_id, tool=call.tool, args={k: as_ref(v) for k, v in call.args.items()}))
            seen.append((step_id, call.tool, text))
            error = text.startswith("error: ")
            observations.append({"id": step_id, "tool": call.tool, "error": error,
                                 "text": text[len("error: "):] if error else text})
    thought = " ".join(t.thought for t in example.turns)
    for literal, ref in renamed.items():
        thought = re.sub(rf"\b{literal}\b", ref, thought)
    return Program(thought=thought, steps=steps), observations


def program_json(program: Program) -> str:
    """The program as the JSON reply the LLM is asked to write."""
    return json.dumps({"thought": program.thought,
                       "program": [{"id": s.id, "tool": s.tool, "args": s.args} for s in program.steps]})


def observation_rows(steps: list[Any]) -> list[dict[str, Any]]:
    """Template rows for the tool steps of a trace: step id, tool, error flag and text."""
    return [{"id": s.call_id or str(s.index), "tool": s.tool, "error": s.error is not None,
             "text": s.error if s.error is not None else (s.result or "")} for s in steps if isinstance(s, ToolStep)]


class ProgramPlanner:
    """Writes a whole program in one call, then composes the answer from what it observed."""

    name = "program"

    def __init__(self, *, num_examples: int = 3, max_tokens: int | None = None, max_steps: int = 6,
                 tool_profile: ToolProfile = FULL):
        self.num_examples = num_examples
        self.max_tokens = max_tokens
        self.max_steps = max_steps
        self.calls_per_turn = max_steps
        self.tool_profile = tool_profile

    def offered(self, request: PlanRequest) -> PlanRequest:
        """The request with only the tools this planner's profile offers (prompt, validation and examples follow)."""
        tools = self.tool_profile.offer(request.tools)
        return request if len(tools) == len(request.tools) else dataclasses.replace(request, tools=tools)

    def system_prompt(self, tools: list[Tool]) -> str:
        rows = [{"name": t.name, "description": t.description, "args": describe_args(t.parameters_schema()),
                 "output": describe_output(output_schema(type(t)))} for t in tools]
        return render_program("system", box_convention=BOX_CONVENTION, tools=rows, max_steps=self.max_steps)

    def choose_examples(self, request: PlanRequest) -> list[Example]:
        return examples_for(request, self.num_examples)

    def render_example(self, number: int, example: Example, tools: Mapping[str, Tool]) -> str:
        program, observations = example_program(example, tools)
        final = json.dumps({"thought": example.final_thought, "answer": example.answer,
                            "rationale": example.rationale})
        return render_program("example", number=number, question=example.question,
                              image_line=f"Image img_0: {example.image_size[0]}x{example.image_size[1]} pixels.",
                              program_reply=program_json(program), final_reply=final,
                              observations=render_program("observations", observations=observations))

    def conversation(self, request: PlanRequest, llm: LLMBackend) -> tuple[list[Message], list[str]]:
        """The system and question messages (shared by every call of a run), and the example ids shown."""
        examples = self.choose_examples(request)
        tools = {t.name: t for t in request.tools}
        blocks = [render_program("examples_header")] + [self.render_example(i + 1, e, tools)
                                                        for i, e in enumerate(examples)]
        image_line = " ".join(i.line() for i in request.images)
        text = render_program("question", examples="\n\n".join(blocks) if examples else "",
                              image_line=image_line, question=request.question)
        messages = [Message(role="system", content=self.system_prompt(request.tools)),
                    Message(role="user", content=with_history(text, request.history),
                            images=attached_images(llm, examples, request.images))]
        return messages, [e.id for e in examples]

    # Decide -------------------------------------------------------------------------------------
    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        request = self.offered(request)
        plan = next((s for s in request.steps if isinstance(s, PlanStep)), None)
        if plan is None and (request.force_answer or not request.tools):
            if request.tools:
                return PlanOutcome(move=Final(answer=CANNOT_TELL, rationale="the planner wrote no valid program "
                                              "within its retry budget"))
            return self._compose(request, llm, plan=None)
        if plan is None:
            return self._write(request, llm)
        return self._compose(request, llm, plan=plan)

    def _write(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        messages, example_ids = self.conversation(request, llm)
        retries = [s for s in request.steps if isinstance(s, RetryStep)]
        left = request.retries_left + len(retries)
        for n, r in enumerate(retries):
            messages += self.feedback(r.raw_reply or "", r.problems or [r.error], retries_left=left - n - 1)
        reply = llm.generate(messages, json_schema=program_schema(request.tools, max_steps=self.max_steps),
                             max_tokens=self.max_tokens)
        outcome = PlanOutcome(move=None, raw_reply=reply.text, usage=reply.usage, example_ids=example_ids)
        try:
            program = parse_program(reply.text)
            problems = validate_program(program, {t.name: t for t in request.tools}, max_steps=self.max_steps)
        except InvalidReply as exc:
            problems = [str(exc)]
        if problems:
            outcome.error, outcome.problems = "; ".join(problems), problems
            return outcome
        outcome.move = CallTools(calls=[ToolCall(tool=s.tool, args=s.args, id=s.id) for s in program.steps],
                                 thought=program.thought, program=[s.model_dump() for s in program.steps])
        return outcome

    def _compose(self, request: PlanRequest, llm: LLMBackend, *, plan: PlanStep | None) -> PlanOutcome:
        messages, example_ids = self.conversation(request, llm)
        after = request.steps[request.steps.index(plan) + 1:] if plan is not None else request.steps
        program = Program(thought=plan.thought or "", steps=[ProgramStep(id=c.id, tool=c.tool, args=c.args)
                                                            for c in plan.tool_calls]) if plan is not None else None
        messages = self.compose_messages(messages, program, [s for s in after if isinstance(s, ToolStep)])
        retries = [s for s in after if isinstance(s, RetryStep)]
        left = request.retries_left + len(retries)
        for n, r in enumerate(retries):
            payload = json.dumps({"error": "invalid_reply", "detail": r.error, "retries_left": left - n - 1})
            messages += [Message(role="assistant", content=(r.raw_reply or "")[:800]),
                         Message(role="user", content=render_program("invalid_answer", error_json=payload,
                                                                     reply_format=ANSWER_FORMAT))]
        reply = llm.generate(messages, json_schema=answer_schema(request.question), max_tokens=self.max_tokens)
        return answer_outcome(reply, steps=request.steps, example_ids=example_ids)

    @staticmethod
    def feedback(raw_reply: str, problems: list[str], retries_left: int) -> list[Message]:
        """The rejected reply and the structured error that asks for a corrected program."""
        payload = json.dumps({"error": "invalid_program", "problems": problems, "retries_left": retries_left})
        return [Message(role="assistant", content=raw_reply[:1500]),
                Message(role="user", content=render_program("invalid_program", error_json=payload))]

    @staticmethod
    def compose_messages(base: list[Message], program: Program | None, tool_steps: list[ToolStep]) -> list[Message]:
        """The conversation for the compose call: the accepted program, then one observation per step."""
        msgs = list(base)
        if program is not None:
            msgs.append(Message(role="assistant", content=program_json(program)))
        obs = render_program("observations", observations=observation_rows(tool_steps))
        msgs.append(Message(role="user", content=render_program("compose", observations=obs)))
        return msgs
