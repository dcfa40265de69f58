"""Query mode: the LLM translates the question into one program of the query language, in one constrained call;
the ``query`` tool runs it exactly over the images' scene graphs and its result is the answer (no second call).

The moves, read from the trace:
1. No scene yet: ``scene_graph`` on every image of the question (no LLM): what the experts can name there.
2. Read the question with the lexicon. A question about the picture as a whole ("background", "drawing") or
   one that names nothing goes to the fallback planner (ReAct, with the picture tool); one with a word the lexicon
   does not know, or a thing no expert here can find, is answered "cannot tell", saying which word.
3. Write the program: the static prefix (the language, fixed worked examples: byte-identical, so llama.cpp
   reuses or loads its KV state) plus one short message (the question; the images; the previous question of a
   chat), the reply prefilled with ``P:`` under a grammar bounded by the scene's vocabulary and its words, and by
   what step 4 rejects in any program for this question (words and ops it does not say, another form of answer).
4. Check it against the whole question (``checks.py``): every content phrase accounted for, nothing added, the
   question's form. A program that does not type, or does not answer the whole question, is fed back once with
   what is wrong; a second failure is answered "cannot tell", naming what was not understood. Never an answer to
   another question.
5. ``query`` runs it; its result is the answer, shown whole, with the program in words as the rationale.
``unsupported()`` (the question needs more than objects) hands over to the fallback.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from ...backends.base import LLMBackend
from ...lexicon import Reading
from ...schema import ToolCall
from ...tools.query import QueryError, Scene, check_program
from ...trace import PlanStep, RetryStep, Step, ToolStep
from ..base import CANNOT_TELL, CallTools, Final, PlanOutcome, PlanRequest
from ..react import ReactPlanner
from .checks import Verdict, bounds, check, read_question
from .grammar import build_grammar
from .prompt import PREFILL, EarlierTurn, QueryPrompt
from .repair import (
    relation_of_the_subject,
    with_any_for_a,
    with_each_image,
    with_each_image_asked_apart,
    with_every_image,
    with_every_one_said_of_the_values,
    with_images_in_question_order,
    with_missing_noun,
    with_one_set_that_is_both,
    with_one_side_each_image,
    with_or_sides_from_the_question,
    with_relations_moved,
    with_same_as_for_alike,
    with_the_and_side_left_out,
    with_the_not_in_the_set,
    with_the_nots_the_question_says,
    with_the_noun_phrase_read,
    with_the_nth_for_an_extreme,
    with_the_or_side_left_out,
    with_the_other_image,
    with_the_other_position,
    with_the_premise_for_its_pronoun,
    with_the_two_alike,
    with_two_things_compared,
    without_conditions_said_twice,
    without_the_answer_in_the_set,
    without_the_contradiction,
    without_the_outer_not,
    without_words_of_the_compared,
)

logger = logging.getLogger(__name__)

SCENE_TOOL, QUERY_TOOL = "scene_graph", "query"
MAX_WRITES = 2  # the first program and one rewrite after what was wrong was fed back
PROGRAM_MAX_TOKENS = 96  # programs are 5-60 tokens; a longer reply is a model gone astray
UNSUPPORTED = "unsupported()"
# A chat's earlier questions the prompt shows (for "them", "the one on the left", "that one"): at least the last
# EARLIER_TURNS, from a start that moves EARLIER_TURNS turns at a time, so that consecutive follow-ups share their
# prompt up to the new question (llama.cpp then reads only that) except when the start moves.
EARLIER_TURNS = 2


class QueryPlanner:
    """Translates questions into query programs; falls back to ``fallback`` (ReAct) where the language cannot."""

    name = "query"

    def __init__(self, *, fallback: ReactPlanner | None = None, max_tokens: int = PROGRAM_MAX_TOKENS,
                 prompt: QueryPrompt | None = None):
        self.fallback = fallback or ReactPlanner()
        self.max_tokens = max_tokens
        self.prompt = prompt or QueryPrompt()
        self.calls_per_turn = max(self.fallback.calls_per_turn, 8)
        self._warmed = False

    def decide(self, request: PlanRequest, llm: LLMBackend) -> PlanOutcome:
        tools = {t.name for t in request.tools}
        if not {SCENE_TOOL, QUERY_TOOL} <= tools or self._handed_over(request.steps):
            return self.fallback.decide(self._fallback_request(request), llm)
        focus = request.images[0].id
        images = sorted((i.id for i in request.images), key=_image_order)
        scenes = {s.args.get("image"): s for s in request.steps if isinstance(s, ToolStep) and s.tool == SCENE_TOOL}
        missing = [i for i in images if i not in scenes]
        if missing:
            self.warm_up(llm)
            return PlanOutcome(move=CallTools(
                calls=[ToolCall(tool=SCENE_TOOL, args={"image": i}, id=f"scene_{i}") for i in missing],
                thought="what the experts can name in the image" + "s" * (len(images) > 1)))
        queries = [s for s in request.steps if isinstance(s, ToolStep) and s.tool == QUERY_TOOL]
        if queries and queries[-1].ok:
            data = queries[-1].data or {}
            # computed by the tool, not said by the LLM: passed through whole (verbatim), never shortened
            return PlanOutcome(move=Final(answer=str(data.get("answer", "")), rationale=str(data.get("rationale", "")),
                                          evidence=list(data.get("evidence", [])), thought="the program's result",
                                          verbatim=True))
        if any(s.error is not None for s in scenes.values()) or request.force_answer:
            return self.fallback.decide(self._fallback_request(request), llm)
        scene = Scene.from_data({i: scenes[i].data or {} for i in images}, focus=focus)
        return self._write(request, llm, scene)

    def warm_up(self, llm: LLMBackend, question: str | None = None) -> None:
        """Load the model and its prefix state in the background while the experts build the scene graph (a new
        process overlaps the two instead of paying for both in turn). With ``question`` (a first question about
        one image: its prompt does not depend on the scene) the question's prompt is read too, where the backend
        can (``read_ahead``), so the program call only writes. The program call primes again: it then finds the
        state in memory, or waits for this thread to finish; a failure here is only logged (that call raises it
        where it counts)."""
        if not llm.profile.can_prime_prefix or self._warmed:  # after the first question the model stays loaded
            return
        self._warmed = True
        read_ahead = getattr(llm, "read_ahead", None)
        ahead = [*self.prompt.prefix_messages(), self.prompt.question_message(question)] if question else None

        def run() -> None:
            try:
                llm.prime(self.prompt.prefix_messages())
                if read_ahead is not None and ahead is not None:
                    read_ahead(ahead, PREFILL)
            except Exception as exc:  # noqa: BLE001 - reported by the program call's own prime
                logger.info("prefix warm-up failed: %s", exc)

        threading.Thread(target=run, name="lavr-llm-warm-up", daemon=True).start()

    # Writing the program -----------------------------------------------------------------------------------
    def _write(self, request: PlanRequest, llm: LLMBackend, scene: Scene) -> PlanOutcome:
        question = request.question
        turns = _turns(request.history)
        turns = turns[window_start(len(turns)):]
        context = [q for q, _ in turns]
        reading = read_question(question, scene, context)
        if reading.asks_about_the_picture():
            return self._run(request, scene, UNSUPPORTED,
                             "the question is about the picture as a whole, not its objects")
        if reading.unknown_words() or reading.undetectable():
            verdict = check(question, check_program(UNSUPPORTED, scene), scene, context=context)
            return PlanOutcome(move=Final(answer=f"{CANNOT_TELL}: {verdict.reason()}", verbatim=True,
                                          thought="the question has words no program over these objects can use"))
        missing = reading.presupposed_missing()
        if missing:
            things = " and no ".join(missing)
            return PlanOutcome(move=Final(
                answer=f"{CANNOT_TELL}: the question speaks of the {missing[0]}, but the experts found no {things}",
                verbatim=True,
                thought="a thing the question takes to be there was not found: no program answers it"))
        if reading.names_nothing():
            return self._run(request, scene, UNSUPPORTED, "the question names none of the objects")
        earlier = [EarlierTurn(question=q, program=request.programs.get(q), answer=a) for q, a in turns]
        failures = self._failures(request.steps)
        without: frozenset[Reading] = frozenset()
        without_ops: frozenset[str] = frozenset()
        if failures:
            raw, problems = failures[-1]
            messages = self.prompt.feedback_messages(question, scene, earlier, _program_text(raw), problems)
            first = _verdict(_program_text(raw), question, scene, context)
            if first is not None:  # a rewrite may not use again what the question does not say
                without, without_ops = frozenset(first.not_said), frozenset(first.not_said_ops)
        else:
            messages = self.prompt.messages(question, scene, earlier)
            if llm.profile.can_prime_prefix:
                llm.prime(self.prompt.prefix_messages())  # the prefix's KV state: kept, loaded from disk, or computed
        grammar = build_grammar(scene.vocabulary, scene.images, without=without, without_ops=without_ops,
                                bounds=bounds(question, scene, context))
        reply = llm.generate(messages, grammar=grammar.gbnf, prefill=PREFILL, max_tokens=self.max_tokens,
                             repeat_penalty=1.0)
        outcome = PlanOutcome(move=None, raw_reply=reply.text, usage=reply.usage)
        program = _program_text(reply.text)
        try:
            typed = check_program(program, scene)
        except QueryError as exc:
            return self._reject(outcome, f"The program cannot run: {exc}.", failures,
                                f"I could not write a program for the whole question that runs ({exc})")
        if typed.type == "unsupported":
            return self._run(request, scene, UNSUPPORTED, "the objects cannot answer this", outcome)
        verdict = check(question, typed, scene, context=context)
        if not verdict.ok and verdict.fixable:
            repairs = [(with_missing_noun(typed, verdict, {p.text: p.readings for p in reading.phrases}, scene),
                        "the program's set named no kind of thing: the question's noun added"),
                       (with_every_image(typed, verdict, scene),
                        "the program named one image where the question takes them all as one: all_images"),
                       (with_each_image(typed, verdict, scene),
                        "the program asked about one image where the question asks each: asked of each"),
                       (relation_of_the_subject(reading),
                        "the question only asks whether one thing is in a relation to another"),
                       (with_relations_moved(typed, reading),
                        "a relation the program said of another thing than the question: moved to that thing"),
                       (with_images_in_question_order(typed, verdict, reading),
                        "the program compared the images in the other order than the question: turned round"),
                       (without_the_outer_not(typed, verdict),
                        "the program said not once more than the question, around a not of its own: taken out"),
                       (without_the_answer_in_the_set(typed, verdict, reading),
                        "the program took the extreme of the kind asked about: of everything, as the question says"),
                       (with_the_nth_for_an_extreme(typed, verdict, {p.text: p.readings for p in reading.phrases}),
                        "the program took the extreme where the question asks for the n-th from that side"),
                       (with_the_other_image(typed, verdict, reading),
                        "the program asked about the image the question says is not the one asked about"),
                       (with_one_set_that_is_both(typed, verdict, reading),
                        "the question says one thing is both: one set"),
                       (with_one_side_each_image(typed, verdict, scene),
                        "the program compared a count with itself where the question compares the two images"),
                       (with_every_one_said_of_the_values(typed),
                        "the program said every one is in an image: every one is what the set was said to be"),
                       (with_the_two_alike(typed, reading),
                        "the program compared the one thing with itself where the question says \"the two\""),
                       (with_any_for_a(typed, verdict, reading),
                        "the question says \"a\" of a thing the program took to be the only one: any of them"),
                       (with_or_sides_from_the_question(typed, verdict, reading),
                        "the program took a side of the question's \"or\" out of it: built from the question"),
                       (with_same_as_for_alike(typed, reading),
                        "\"the same ... as\" X compares other things with X: same_*"),
                       (with_two_things_compared(typed, verdict, reading),
                        "two things said with \"and\", then \"same\": each thing's value compared"),
                       (without_the_contradiction(typed),
                        "the program's set said a condition and its not: the not taken out"),
                       (with_the_not_in_the_set(typed, reading),
                        "the program said the question's \"that are not\" of the answer: of the things"),
                       (with_each_image_asked_apart(typed),
                        "the program asked for one object in two images: asked of each image"),
                       (with_the_premise_for_its_pronoun(typed, verdict, reading),
                        "the program did not say the asked relation of the thing the first sentence says is there"),
                       (with_the_noun_phrase_read(typed, verdict, reading),
                        "the program's set of the question's longest noun phrase: that phrase as the question says it"),
                       (with_the_other_position(typed, verdict, reading),
                        "the program wrote one of the question's positions: the others next to it"),
                       (with_the_nots_the_question_says(typed, verdict, reading),
                        "the program said not of what the question does not: only where it says it"),
                       (without_conditions_said_twice(typed, verdict),
                        "the program said a condition twice over: said once"),
                       (with_the_and_side_left_out(typed, verdict, reading),
                        "the program left out a side of the question's \"and\": each side asked"),
                       (with_the_or_side_left_out(typed, verdict, reading),
                        "the program left out a side of the question's \"or\": both sides from the question"),
                       (without_words_of_the_compared(typed, verdict, reading),
                        "the program repeated words of the thing a same_* compares with: taken out")]
            for repaired, why in repairs:
                if repaired is not None and _passes(repaired, question, scene, context):
                    return self._run(request, scene, repaired, f"{question} ({why})", outcome)
        if not verdict.ok:
            if not verdict.fixable:
                outcome.move = Final(answer=f"{CANNOT_TELL}: {verdict.reason()}", verbatim=True)
                return outcome
            return self._reject(outcome, verdict.feedback(), failures, verdict.reason())
        return self._run(request, scene, program, question, outcome)

    def _reject(self, outcome: PlanOutcome, feedback: str, failures: list[tuple[str, str]], reason: str) -> PlanOutcome:
        """Fed back once; after a second failure the answer is "cannot tell", saying why."""
        if len(failures) + 1 >= MAX_WRITES:
            outcome.move = Final(answer=f"{CANNOT_TELL}: {_lower_first(reason)}", verbatim=True,
                                 thought="no program for the whole question")
            return outcome
        outcome.error, outcome.problems = feedback, [feedback]
        return outcome

    @staticmethod
    def _run(request: PlanRequest, scene: Scene, program: str, thought: str,
             outcome: PlanOutcome | None = None) -> PlanOutcome:
        outcome = outcome or PlanOutcome(move=None)
        args: dict[str, Any] = {"image": scene.focus, "program": program}
        if len(scene.images) > 1:
            args["images"] = list(scene.images)
        outcome.move = CallTools(calls=[ToolCall(tool=QUERY_TOOL, args=args, id=f"query_{len(request.steps)}")],
                                 thought=thought, program=program)
        return outcome

    # Where the run stands ----------------------------------------------------------------------------------
    @staticmethod
    def _failures(steps: list[Step]) -> list[tuple[str, str]]:
        """(reply, what was wrong) of every rejected or failed program so far."""
        failures: list[tuple[str, str]] = []
        last_reply = ""
        for s in steps:
            if isinstance(s, RetryStep):
                failures.append((s.raw_reply or "", s.error))
            elif isinstance(s, PlanStep):
                last_reply = s.raw_reply or ""
            elif isinstance(s, ToolStep) and s.tool == QUERY_TOOL and s.error is not None:
                failures.append((last_reply, f"The program cannot run: {s.error}."))
        return failures

    def _handed_over(self, steps: list[Step]) -> bool:
        return any(isinstance(s, ToolStep) and s.tool == QUERY_TOOL and s.ok
                   and (s.data or {}).get("answer_type") == "unsupported" for s in steps)

    @staticmethod
    def _fallback_request(request: PlanRequest) -> PlanRequest:
        """ReAct sees its own turns only: the query attempts stay in the trace but not in its prompt."""
        last_query = max((s.index for s in request.steps if isinstance(s, RetryStep)
                          or (isinstance(s, (ToolStep, PlanStep)) and _is_query_step(s))), default=-1)
        later: list[Any] = [s for s in request.steps if s.index > last_query]
        return PlanRequest(question=request.question, images=request.images, tools=request.tools, steps=later,
                           steps_left=request.steps_left, retries_left=request.retries_left,
                           force_answer=request.force_answer, history=request.history)


def window_start(turns: int, size: int = EARLIER_TURNS) -> int:
    """The first of ``turns`` earlier turns a prompt shows: between ``size`` and ``2 * size - 1`` of them (all when
    fewer), the start moving by ``size`` at a time."""
    return max(0, (turns - size) // size * size)


def _verdict(program: str, question: str, scene: Scene, context: list[str]) -> Verdict | None:
    """The check of an earlier program (None: it did not even type)."""
    try:
        return check(question, check_program(program, scene), scene, context=context)
    except QueryError:
        return None


def _turns(history: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The chat's real turns, as the user asked and the short answer: the history also carries notes ("(thread
    context)", "(N earlier turns omitted)"), the images a turn attached ("[attached img_0]") and each answer's
    rationale in parentheses (``chat.thread.prompt_history``), which a program needs none of."""
    turns = []
    for q, a in history:
        if q.startswith("(") and q.endswith(")"):
            continue
        question = re.sub(r"\s*\[attached [^\]]*\]$", "", q)
        if question:  # not a message that only brought images
            turns.append((question, a.split(" (", 1)[0]))
    return turns


def _passes(program: str, question: str, scene: Scene, context: list[str]) -> bool:
    try:
        return check(question, check_program(program, scene), scene, context=context).ok
    except QueryError:
        return False


def _program_text(reply: str) -> str:
    """The program of a reply: the first line, without the ``P:`` a model without prefill may write."""
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text[len(PREFILL):].strip() if text.startswith(PREFILL) else text


def _lower_first(text: str) -> str:
    return text if text.startswith("I ") else text[:1].lower() + text[1:]


def _image_order(image: str) -> tuple[str, int]:
    kind, _, number = image.partition("_")
    return kind, int(number) if number.isdigit() else 0


def _is_query_step(step: Any) -> bool:
    if isinstance(step, ToolStep):
        return step.tool in (QUERY_TOOL, SCENE_TOOL) and (step.call_id or "").startswith(("query_", "scene"))
    return isinstance(step, PlanStep) and step.planner == QueryPlanner.name and \
        any(c.tool == QUERY_TOOL for c in step.tool_calls) and step.program is not None


__all__ = ["QueryPlanner"]

