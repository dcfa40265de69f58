"""The OpenAI-compatible backend against a real HTTP server on loopback."""

import json
import socket

import pytest
from PIL import Image

from lavr import Agent
from lavr.backends import Message, make_backend
from lavr.backends.openai_compat import OpenAIBackend
from lavr.errors import BackendError
from fake_openai import FakeOpenAI, completion
from tools_for_tests import CountTool


def backend(settings, url, **kw):
    return OpenAIBackend("test-model", settings.model_copy(update={"openai_base_url": url, **kw}))


def test_json_mode_sends_schema_and_reads_usage(settings):
    with FakeOpenAI([completion('{"thought": "t", "answer": "4", "rationale": "r"}')]) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        reply = b.generate([Message(role="user", content="hi")], json_schema={"type": "object"})
    assert json.loads(reply.text)["answer"] == "4"
    assert reply.usage.prompt_tokens == 11 and reply.usage.completion_tokens == 5
    sent = server.requests[0]
    assert sent["model"] == "test-model" and sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_server_without_structured_output_falls_back(settings):
    refuse = (400, {"error": {"message": "response_format not supported"}})
    with FakeOpenAI([refuse, refuse, completion('{"answer": "yes"}')]) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        reply = b.generate([Message(role="user", content="hi")], json_schema={"type": "object"})
    assert reply.text == '{"answer": "yes"}'
    assert [r.get("response_format", {}).get("type") for r in server.requests] == ["json_schema", "json_object", None]


def test_agent_with_native_tool_calls_and_vision(settings):
    script = [completion(None, [("count", {"label": "person"})]),
              completion("The count tool says 4.", [("final_answer", {"answer": "4", "rationale": "person=4"})])]
    with FakeOpenAI(script) as server:
        b = backend(settings, server.base_url, openai_vision=True)
        agent = Agent(b, settings=settings.model_copy(update={"num_examples": 0}), tools=[CountTool(settings)],
                      cache=False)
        ans = agent.ask(Image.new("RGB", (32, 32)), "How many people?")
    assert ans.answer == "4" and ans.usage.llm_calls == 2 and ans.usage.prompt_tokens == 22
    first, second = server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["count", "final_answer"]
    user = first["messages"][1]["content"]
    assert user[0]["type"] == "text" and user[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "count"
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_0", "content": "counts: person=4"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_clear_error(settings):
    b = backend(settings, f"http://127.0.0.1:{_closed_port()}/v1", openai_timeout_s=2.0)
    with pytest.raises(BackendError, match="cannot reach the LLM server at http://127.0.0.1"):
        b.generate([Message(role="user", content="hi")])


@pytest.mark.parametrize("status,needle", [(401, "refused the API key"), (404, "has no model"),
                                           (503, "answered HTTP 503")])
def test_http_errors_are_clear(settings, status, needle):
    with FakeOpenAI([(status, {"error": {"message": "nope"}})] * 3) as server:
        with pytest.raises(BackendError, match=needle):
            backend(settings, server.base_url).generate([Message(role="user", content="hi")])


def test_make_backend_specs(settings, tmp_path):
    assert make_backend("openai:gpt-4o-mini", settings).name == "openai:gpt-4o-mini"
    assert make_backend("local", settings).name.startswith("local:")
    with pytest.raises(BackendError, match="unknown LLM 'claude'"):
        make_backend("claude", settings)
    with pytest.raises(BackendError, match="no such GGUF"):
        make_backend(str(tmp_path / "missing.gguf"), settings)
    with pytest.raises(BackendError, match="needs a model name"):
        make_backend("openai:", settings)
