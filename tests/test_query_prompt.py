"""The query planner's prompt: worked examples that execute to their answers, and a byte-identical prefix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lavr.planners.query.prompt import QueryPrompt, WorkedExample, load_worked_examples
from lavr.tools.query import QueryTool, SceneVocabulary, check_vocabulary, execute, nest
from lavr.tools.query.compact import to_text
from lavr.agents.executor import ToolExecutor
from lavr.schema import Box, ToolCall
from lavr.tools.base import RunContext
from lavr.tools.detect import RawDetection
from lavr.tools.registry import ToolRegistry
from lavr.tools.scene_graph import SceneGraphTool
from query_scenes import shapes
from tools_for_tests import FixedDetector

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@pytest.mark.parametrize("example", load_worked_examples(), ids=lambda e: e.id)
def test_every_worked_example_executes_to_its_stated_answer(example: WorkedExample):
    program = example.parsed()  # the compact expression the model sees, flattened to steps
    graph = example.scene.graph()
    check_vocabulary(program, SceneVocabulary.from_graph(graph))  # names only what its scene allows
    execution = execute(program, graph)
    assert execution.answer == example.answer, execution.rationale
    # only the example of a question beyond the language has no value, and says so
    assert (execution.problem is None) == (execution.answer_type != "unsupported")


def test_worked_examples_cover_the_language_and_are_distinct():
    examples = load_worked_examples()
    ops = {s.op for e in examples for s in e.parsed().steps}
    assert {"select", "filter", "relate", "verify", "count", "exist", "query", "more", "same", "except", "or",
            "exactly", "leftmost", "largest", "unsupported"} <= ops
    assert len({e.question for e in examples}) == len({e.id for e in examples}) == len(examples)


def test_the_prefix_is_byte_identical_across_questions():
    a, b = QueryPrompt(), QueryPrompt()
    v1 = SceneVocabulary.from_graph(shapes())
    v2 = SceneVocabulary.from_graph(load_worked_examples()[0].scene.graph())
    m1 = a.messages("How many red circles are there?", v1)
    m2 = b.messages("Is the frame left of the star?", v2)
    assert [m.model_dump() for m in m1[:-1]] == [m.model_dump() for m in m2[:-1]]
    assert a.prefix_hash() == b.prefix_hash()
    assert m1[-1].content == ("Experts: objects: circle, frame, square, triangle; color: blue, gray, green, red, "
                              "yellow\nQuestion: How many red circles are there?")
    # a label the question names that the experts know but did not find is listed, so it reads as "0 / no"
    assert a.question_message("Is there a star?", v1).content.startswith(
        "Experts: objects: circle, frame, square, triangle; none found: star; color:")
    # every worked program appears in the prefix exactly as the compact JSON the model should write
    for ex in load_worked_examples():
        assert f"Program: {to_text(ex.program)}\n" in a.prefix_text + "\n"
        assert nest(ex.parsed()) == ex.program  # the compact form is the canonical nesting of its steps
    shorter = QueryPrompt(examples=load_worked_examples()[:-1])
    assert shorter.prefix_hash() != a.prefix_hash()


def _gguf() -> Path | None:
    for folder in (Path(os.environ.get("LAVR_DATA_DIR", "")) / "models", Path.home() / ".local/share/lavr/models"):
        if (folder / GGUF_NAME).is_file():
            return folder / GGUF_NAME
    return None


@pytest.mark.skipif(_gguf() is None, reason="the embedded GGUF is not assembled here")
def test_prompt_token_budget_with_the_real_tokenizer():
    from llama_cpp import Llama

    llm = Llama(model_path=str(_gguf()), vocab_only=True, verbose=False)

    def tokens(text: str) -> int:
        return len(llm.tokenize(text.encode(), add_bos=False, special=True))

    prompt = QueryPrompt()
    assert tokens(f"<|im_start|>system\n{prompt.prefix_text}<|im_end|>\n") <= 2400  # 29 worked examples
    vocab = SceneVocabulary.from_graph(shapes())
    q = prompt.question_message("Is the small red circle to the left of the large green square?", vocab).content
    assert tokens(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n") <= 100


def test_query_tool_runs_a_program_and_reports_errors_to_the_llm(settings):
    detector = FixedDetector(settings, [
        RawDetection(label="circle", confidence=0.9, box=Box.from_list([0.05, 0.1, 0.2, 0.25]),
                     attributes={"color": "red"}),
        RawDetection(label="square", confidence=0.9, box=Box.from_list([0.7, 0.1, 0.9, 0.3]),
                     attributes={"color": "blue"})], labels=["circle", "square", "star"])
    tool = QueryTool(settings, scene_graph=SceneGraphTool(settings, detector=detector))
    executor = ToolExecutor(ToolRegistry([tool]))
    ctx = RunContext(settings)
    ctx.images.add(Image.fromarray(np.full((60, 80, 3), 255, dtype=np.uint8)))
    steps = [{"op": "select", "label": "circle"}, {"op": "select", "label": "square"},
             {"op": "verify", "input": 0, "relation": "left_of", "other": 1}]
    step = executor.run_one(ToolCall(tool="query", args={"image": "img_0", "steps": steps}), ctx)
    assert step.error is None
    assert step.data["answer"] == "yes" and step.data["evidence"] == ["obj_0", "obj_1"]
    assert step.result.startswith("query on img_0: answer: yes")
    bad = executor.run_one(ToolCall(tool="query", args={"image": "img_0", "steps": [{"op": "count", "input": 0}]}),
                           ctx)
    assert bad.result is None and "ReferenceProblem" not in bad.error and "`input` is 0" in bad.error
    unknown = executor.run_one(ToolCall(tool="query", args={"steps": [{"op": "select", "label": "giraffe"}]}), ctx)
    assert "no expert can find 'giraffe'" in unknown.error
    # a label the detector knows but did not find: an exact "no", not an error
    star = executor.run_one(ToolCall(tool="query", args={"steps": [{"op": "select", "label": "stars"},
                                                                   {"op": "exist", "input": 0}]}), ctx)
    assert star.error is None and star.data["answer"] == "no"


def test_query_tool_schema_is_the_languages():
    spec = QueryTool().spec()
    text = json.dumps(spec)
    assert "$ref" not in text and "discriminator" not in text
    items = spec["parameters"]["properties"]["steps"]["items"]
    ops = {op for branch in items["oneOf"] for op in branch["properties"]["op"].get("enum", [])
           + ([branch["properties"]["op"]["const"]] if "const" in branch["properties"]["op"] else [])}
    assert {"select", "filter", "relate", "count", "verify", "same", "leftmost"} <= ops
    assert "left_of" in text
