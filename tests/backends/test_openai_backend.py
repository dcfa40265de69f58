"""The OpenAI-compatible backend against a real HTTP server on loopback."""

import json
import socket

import pytest
from fake_openai import FakeOpenAI, completion
from PIL import Image
from tools_for_tests import CountTool

from lavr import Agent
from lavr.backends import Message, make_backend
from lavr.backends.openai_compat import OpenAIBackend, unescape_entity_json
from lavr.errors import BackendError


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


def test_cached_prompt_tokens_are_read_when_the_server_reports_them(settings):
    body = completion("{}")
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 7}
    with FakeOpenAI([body, completion("{}")]) as server:
        b = backend(settings, server.base_url)
        first = b.generate([Message(role="user", content="hi")])
        second = b.generate([Message(role="user", content="hi")])
    assert first.usage.cached_prompt_tokens == 7 and second.usage.cached_prompt_tokens == 0


def _format(request: dict) -> str | None:
    rf = request.get("response_format")
    return None if rf is None else rf["type"] + ("+schema" if "schema" in rf else "")


def test_server_without_structured_output_falls_back(settings):
    refuse = (400, {"error": {"message": "response_format not supported"}})
    with FakeOpenAI([refuse, refuse, refuse, completion('{"answer": "yes"}')]) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        reply = b.generate([Message(role="user", content="hi")], json_schema={"type": "object"})
    assert reply.text == '{"answer": "yes"}'
    assert [_format(r) for r in server.requests] == ["json_schema", "json_object+schema", "json_object", None]


def _refuses_json_schema(status: int):
    """A server that refuses ``response_format: json_schema`` (llama-cpp-python's answers 500) and serves the rest."""
    def respond(body):
        if body.get("response_format", {}).get("type") == "json_schema":
            return (status, {"error": {"message": "json_schema not supported", "type": "internal_server_error"}})
        return completion('{"answer": "4"}')
    return respond


@pytest.mark.parametrize("status", [400, 422, 500])
def test_refused_json_schema_steps_down_to_json_object_with_the_schema_and_stays_there(settings, status):
    schema = {"type": "object", "properties": {"image": {"type": "string", "pattern": r"^img_\d+$"}}}
    with FakeOpenAI(_refuses_json_schema(status)) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        first = b.generate([Message(role="user", content="hi")], json_schema=schema)
        second = b.generate([Message(role="user", content="again")], json_schema=schema)
    assert first.text == second.text == '{"answer": "4"}'
    kinds = [_format(r) for r in server.requests]
    assert kinds[-2:] == ["json_object+schema"] * 2 and set(kinds[:-2]) == {"json_schema"}
    # the schema goes in the form llama.cpp's grammar converter accepts (no \d class escapes)
    assert server.requests[-1]["response_format"]["schema"]["properties"]["image"]["pattern"] == "^img_[0-9]+$"


def test_a_server_that_rejects_the_schema_beside_json_object_gets_plain_json_object(settings):
    def respond(body):
        rf = body.get("response_format", {})
        if rf.get("type") == "json_schema" or "schema" in rf:
            return (400, {"error": {"message": "unrecognized request argument"}})
        return completion('{"answer": "4"}')
    with FakeOpenAI(respond) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        b.generate([Message(role="user", content="hi")], json_schema={"type": "object"})
    assert [_format(r) for r in server.requests] == ["json_schema", "json_object+schema", "json_object"]


def test_a_server_that_fails_every_request_is_reported_and_the_format_is_kept(settings):
    with FakeOpenAI(lambda body: (500, {"error": {"message": "model crashed"}})) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        for _ in range(2):
            with pytest.raises(BackendError, match="answered HTTP 500: .*model crashed"):
                b.generate([Message(role="user", content="hi")], json_schema={"type": "object"})
    # the openai client repeats a request after a 500, so compare the formats tried, in order, without repeats
    tried = [_format(r) for r in server.requests]
    walked = [k for i, k in enumerate(tried) if i == 0 or k != tried[i - 1]]
    # each attempt walks every format down to none; as the failure was not the format's, the second attempt
    # starts again from json_schema
    assert walked == ["json_schema", "json_object+schema", "json_object", None] * 2


def test_a_500_without_response_format_is_not_retried_as_a_format_problem(settings):
    with FakeOpenAI(lambda body: (500, {"error": {"message": "boom"}})) as server:
        with pytest.raises(BackendError, match="answered HTTP 500"):
            backend(settings, server.base_url).generate([Message(role="user", content="hi")],
                                                        tools=[{"name": "count", "parameters": {}}])
    assert all("response_format" not in r for r in server.requests)


@pytest.mark.parametrize("body,ctype", [
    (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
    (b"not json at all", "application/json"),
    (b"", "application/json"),
    (b'{"hello": "world"}', "application/json"),
    (b'{"choices": [{"message": "four"}]}', "application/json"),
    (b'[1, 2]', "application/json"),
])
def test_a_200_that_is_not_a_chat_completion_is_one_clear_error(settings, body, ctype):
    with FakeOpenAI([(200, body, ctype)]) as server:
        with pytest.raises(BackendError, match="answered with something that is not a chat completion"):
            backend(settings, server.base_url).generate([Message(role="user", content="hi")])


def test_an_empty_choices_list_is_one_clear_error(settings):
    with FakeOpenAI([{**completion("x"), "choices": []}]) as server:
        with pytest.raises(BackendError, match="returned no choices"):
            backend(settings, server.base_url).generate([Message(role="user", content="hi")])


def test_entity_escaped_json_reply_is_unescaped(settings):
    # what llama-cpp-python's chatml-function-calling format makes a model write (it HTML-escapes the prompt)
    escaped = "{&#34;thought&#34;: &#34;a &lt;b&gt; &amp; c&#34;, &#34;answer&#34;: &#34;4&#34;}"
    with FakeOpenAI([completion(escaped), completion(None, [("count", {})])]) as server:
        b = backend(settings, server.base_url, openai_tool_mode="json")
        reply = b.generate([Message(role="user", content="hi")], json_schema={"type": "object"})
    assert json.loads(reply.text) == {"thought": "a <b> & c", "answer": "4"}


@pytest.mark.parametrize("text,expected", [
    # entities inside real JSON are the model's data: a literal quote means it is not escaped JSON
    ('{"thought": "the sign says &#34;stop&#34; &amp; more", "answer": "4"}',
     '{"thought": "the sign says &#34;stop&#34; &amp; more", "answer": "4"}'),
    ("4 people &amp; a bus", "4 people &amp; a bus"),  # no quote entity: not escaped JSON
    ("4 people & a bus", "4 people & a bus"),
    ("", ""),
    ("{&quot;answer&quot;: &quot;&lt;script&gt;&quot;}", '{"answer": "<script>"}'),  # becomes data, never run
])
def test_only_entity_escaped_json_is_unescaped(text, expected):
    assert unescape_entity_json(text) == expected


def test_entity_escaped_tool_arguments_are_unescaped(settings):
    body = completion(None, [("count", {})])
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "{&quot;label&quot;: &quot;person&quot;}"
    with FakeOpenAI([body]) as server:
        reply = backend(settings, server.base_url).generate([Message(role="user", content="hi")],
                                                            tools=[{"name": "count", "parameters": {}}])
    assert reply.tool_calls[0].tool == "count" and reply.tool_calls[0].args == {"label": "person"}


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
    replies = tmp_path / "replies.json"
    replies.write_text('["hi"]')
    assert make_backend(f"scripted:{replies}", settings).name == "scripted"
    # the setting offers the forms make_backend builds (issue 22: it offered a bare 'scripted', which it refuses)
    offered = type(settings).model_fields["llm"].description
    assert "'scripted:FILE.json'" in offered and "'scripted'" not in offered
    with pytest.raises(BackendError, match="'scripted:FILE.json'"):
        make_backend("scripted", settings)
