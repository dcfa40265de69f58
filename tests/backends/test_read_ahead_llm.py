"""The embedded backend reads a question's prompt ahead (``LlamaCppBackend.read_ahead``): the program call that
follows reads none of it again and writes what it writes without the read-ahead (the real model, slow)."""

from __future__ import annotations

import pytest
from embedded_model import embedded_gguf

pytestmark = pytest.mark.llm


def test_a_prompt_read_ahead_is_not_read_again_and_changes_no_program(tmp_path):
    from query_scenes import blocks

    from lavr.backends.llama_cpp import LlamaCppBackend
    from lavr.planners.query.grammar import build_grammar
    from lavr.planners.query.planner import PREFILL
    from lavr.planners.query.prompt import QueryPrompt
    from lavr.settings import Settings

    scene = blocks()
    prompt = QueryPrompt()
    question = "How many cubes are left of the purple cylinder?"
    messages = prompt.messages(question, scene)
    assert messages == [*prompt.prefix_messages(), prompt.question_message(question)]  # one image: no scene in it
    grammar = build_grammar(scene.vocabulary, scene.images).gbnf
    llm = LlamaCppBackend(Settings(data_dir=tmp_path, gguf_path=embedded_gguf()))
    llm.prime(prompt.prefix_messages())

    def write() -> tuple[str, int]:
        reply = llm.generate(messages, grammar=grammar, prefill=PREFILL, max_tokens=48, repeat_penalty=1.0)
        return reply.text, reply.usage.prompt_tokens - reply.usage.cached_prompt_tokens

    plain, read_plain = write()
    other = prompt.messages("What color is the small sphere?", scene)
    llm.read_ahead(other, PREFILL)  # another question in the KV: what the two share stays, the rest is gone
    assert 0 < llm.read_ahead(messages, PREFILL) <= read_plain
    ahead, read_after = write()
    assert read_after == 0 and ahead == plain
    assert "cube" in ahead and "left_of" in ahead
