"""The OpenAI-compatible server on a real loopback socket, called by the official ``openai`` client (streaming
included) and by raw HTTP for the error paths: auth, invalid bodies, oversized and refused images, unknown
threads, a client that disconnects mid-stream."""

from __future__ import annotations

import json
import os
import time

import httpx
import openai
import pytest
from chat_helpers import FindPeople, LiveServer, answer, call, data_url, make_chat, photo, png_bytes
from PIL import Image

from lavr.chat import thread_of_completion
from lavr.chat.server import create_app

TOKEN = "s3cret-token"


@pytest.fixture
def server(settings):
    """A server with a scripted LLM that answers every turn with find -> answer."""
    settings = settings.model_copy(update={"server_token": TOKEN, "chat_max_image_bytes": 200_000})

    def reply(messages):
        last = messages[-1].content
        if "Observation (find)" in last:
            return answer("2", "find reported obj_0 and obj_1")
        if "Observation (where)" in last:
            return answer("right", "obj_1 is on the right")
        if "question: where is obj_1" in last.lower():
            return call("where", object="obj_1")
        return call("find", image="img_0")

    chat, backend = make_chat(settings, [reply], repeat_last=True)
    app = create_app(chat, settings, web=False)
    with LiveServer(app) as live:
        live.chat, live.backend, live.settings = chat, backend, settings
        yield live


def client(server, token=TOKEN):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=token, max_retries=0, timeout=30)


def user(text, *images):
    parts = [{"type": "text", "text": text}] + [{"type": "image_url", "image_url": {"url": u}} for u in images]
    return {"role": "user", "content": parts}


def test_models_and_a_two_turn_thread_with_the_openai_client(server):
    c = client(server)
    assert [m.id for m in c.models.list()] == ["lavr"]
    first = c.chat.completions.create(model="lavr", messages=[user("How many people?", data_url(photo()))])
    assert first.choices[0].message.content == "2" and first.choices[0].finish_reason == "stop"
    extra = first.model_extra["lavr"]
    thread = extra["thread_id"]
    assert extra["turn"] == 0 and extra["images"] == ["img_0"]
    assert [s["kind"] for s in extra["answer"]["steps"]] == ["plan", "tool", "answer"]
    assert first.usage.total_tokens > 0
    # the follow-up names the thread in metadata; only the new message is sent
    second = c.chat.completions.create(model="lavr", messages=[user("Where is obj_1?")],
                                       metadata={"lavr_thread": thread})
    assert second.choices[0].message.content == "right"
    assert second.model_extra["lavr"]["thread_id"] == thread and second.model_extra["lavr"]["turn"] == 1
    # ... or in the header
    raw = c.chat.completions.with_raw_response.create(model="lavr", messages=[user("Where is obj_1?")],
                                                      extra_headers={"X-Lavr-Thread": thread})
    assert raw.headers["x-lavr-thread"] == thread and raw.parse().model_extra["lavr"]["turn"] == 2
    assert [t.answer.answer for t in server.chat.history(thread)] == ["2", "right", "right"]


def test_streaming_sends_steps_then_the_answer(server):
    c = client(server)
    stream = c.chat.completions.create(model="lavr", stream=True, stream_options={"include_usage": True},
                                       messages=[user("How many people?", data_url(photo()))])
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "2"
    events = [(k, v) for ch in chunks for k, v in (ch.model_extra.get("lavr") or {}).items()
              if k in ("step", "progress")]
    assert [v["kind"] if k == "step" else v["text"] for k, v in events] == [
        "thinking (react planner)", "plan", "running find on img_0", "tool", "thinking (react planner)", "answer"]
    assert events[2][1] == {"kind": "progress", "stage": "tools", "tools": ["find(img_0)"],
                            "text": "running find on img_0"}
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and finals[0].model_extra["lavr"]["answer"]["answer"] == "2"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    thread = finals[0].model_extra["lavr"]["thread_id"]
    assert {ch.id for ch in chunks} == {chunks[0].id} and thread_of_completion(chunks[0].id) == thread


def test_steps_stream_as_they_happen(server):
    """Each step leaves the server when its node ends, not when the turn does: the expert takes 1 s here, and the
    chunk saying it runs arrives that long before the tool's step and the answer (it is timed relative to them: the
    router's first message also waits for its encoder to load)."""
    FindPeople.delay_s = 1.0
    try:
        body = {"model": "lavr", "stream": True, "messages": [user("How many people?", data_url(photo()))]}
        seen: list[tuple[float, dict]] = []
        start = time.perf_counter()
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    seen.append((time.perf_counter() - start, json.loads(line[6:])))
    finally:
        FindPeople.delay_s = 0.0

    def at(predicate) -> float:
        return next(t for t, chunk in seen if predicate(chunk.get("lavr") or {}, chunk))

    running = at(lambda lavr, _: (lavr.get("progress") or {}).get("tools") == ["find(img_0)"])
    tool = at(lambda lavr, _: (lavr.get("step") or {}).get("kind") == "tool")
    content = at(lambda _, chunk: bool(chunk["choices"] and chunk["choices"][0]["delta"].get("content")))
    assert tool - running >= 0.9 and content >= tool, (running, tool, content)  # sent while the expert worked


def test_langchain_style_clients_see_the_thread(server):
    """LangChain's ChatOpenAI keeps the standard fields only: the completion id (``response_metadata["id"]``) and,
    with ``include_response_headers=True``, the response headers (it reads them through the openai client's raw
    response, as here). Both name the thread."""
    c = client(server)
    raw = c.chat.completions.with_raw_response.create(model="lavr", messages=[user("How many?", data_url(photo()))])
    completion = raw.parse()
    thread = completion.model_extra["lavr"]["thread_id"]
    assert raw.headers["x-lavr-thread"] == thread
    assert completion.id.startswith("chatcmpl-") and completion.id.endswith("-" + thread)
    assert thread_of_completion(completion.id) == thread
    assert thread_of_completion("chatcmpl-abc") is None and thread_of_completion("chatcmpl-0123456789ab-../x") is None
    follow = c.chat.completions.create(model="lavr", messages=[user("Where is obj_1?")],
                                       extra_headers={"X-Lavr-Thread": thread_of_completion(completion.id)})
    assert follow.choices[0].message.content == "right" and follow.model_extra["lavr"]["turn"] == 1


def test_stateless_conversation_seeds_a_new_thread(server):
    """A client that keeps the conversation itself (no thread id) gets the history and images replayed."""
    c = client(server)
    msgs = [{"role": "system", "content": "You are a pirate."},
            user("How many people?", data_url(photo())), {"role": "assistant", "content": "2"},
            user("Count them again, please.")]
    out = c.chat.completions.create(model="lavr", messages=msgs)
    lavr = out.model_extra["lavr"]
    assert out.choices[0].message.content == "2" and lavr["images"] == ["img_0"]
    state = server.chat.state(lavr["thread_id"])
    assert state.prior == [("How many people?", "2")]
    assert "Q: How many people?\nA: 2" in server.backend.requests[-1]["messages"][1].content


def test_auth_is_required(server):
    with pytest.raises(openai.AuthenticationError) as err:
        client(server, token="wrong").models.list()
    assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": [user("hi")]})
    assert r.status_code == 401
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}


@pytest.mark.parametrize("body,status,code", [
    (b"{not json", 400, "invalid_body"),
    (b"", 400, "invalid_body"),
    (json.dumps({"messages": []}).encode(), 400, "invalid_body"),
    (json.dumps({"messages": [{"role": "wizard", "content": "x"}]}).encode(), 400, "invalid_body"),
    (json.dumps({"messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]}).encode(), 400,
     "invalid_body"),
    (json.dumps({"messages": [{"role": "assistant", "content": "x"}]}).encode(), 400, "invalid_request"),
    (json.dumps({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}).encode(), 404,
     "model_not_found"),
    (json.dumps({"messages": [{"role": "user", "content": "how many?"}]}).encode(), 400, "invalid_request"),
])
def test_invalid_bodies_get_a_clear_json_error(server, body, status, code):
    r = httpx.post(server.url + "/v1/chat/completions", content=body,
                   headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]


def post(server, messages, **headers):
    return httpx.post(server.url + "/v1/chat/completions", json={"model": "lavr", "messages": messages},
                      headers={"Authorization": f"Bearer {TOKEN}", **headers}, timeout=30)


def test_images_are_checked_before_anything_is_stored(server, tmp_path):
    big = Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3))
    assert len(png_bytes(big)) > 200_000
    cases = [
        (data_url(big), 413, "image_too_large"),
        ("data:image/png;base64,!!!notbase64", 400, "invalid_image"),
        ("http://example.com/cat.jpg", 400, "invalid_image"),
        ("file:///etc/passwd", 400, "invalid_image"),
        ("ftp://host/x.png", 400, "invalid_image"),
        ("data:image/png;base64," + "aGVsbG8=", 400, "invalid_image"),
    ]
    for url, status, code in cases:
        r = post(server, [user("how many?", url)])
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (url[:40], r.text)
    refused = post(server, [user("x", "https://e.com/a.png")]).json()["error"]["message"]
    assert "LAVR_CHAT_ALLOW_REMOTE_IMAGES" in refused
    assert server.chat.threads() == []


def test_file_urls_only_inside_allowed_roots(server, tmp_path):
    inside = tmp_path / "photos"
    inside.mkdir()
    (inside / "p.png").write_bytes(png_bytes(photo()))
    (tmp_path / "secret.png").write_bytes(png_bytes(photo()))
    server.settings.allowed_roots.append(inside)
    ok = post(server, [user("How many people?", (inside / "p.png").as_uri())])
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "2"
    r = post(server, [user("How many people?", (tmp_path / "secret.png").as_uri())])
    assert r.status_code == 400 and "outside the allowed folders" in r.json()["error"]["message"]
    r = post(server, [user("How many people?", (inside / ".." / "secret.png").as_uri())])
    assert r.status_code == 400 and "outside the allowed folders" in r.json()["error"]["message"]


def test_unknown_thread_is_404_and_threads_endpoints(server):
    r = post(server, [user("hi")], **{"X-Lavr-Thread": "no-such-thread"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "thread_not_found"
    r = post(server, [user("hi")], **{"X-Lavr-Thread": "../../x"})
    assert r.status_code == 400
    auth = {"Authorization": f"Bearer {TOKEN}"}
    made = httpx.post(server.url + "/v1/threads", json={"id": "kitchen"}, headers=auth).json()
    assert made["id"] == "kitchen"
    assert httpx.post(server.url + "/v1/threads", json={"id": "kitchen"}, headers=auth).status_code == 400
    r = post(server, [user("How many people?", data_url(photo()))], **{"X-Lavr-Thread": "kitchen"})
    assert r.status_code == 200
    listed = httpx.get(server.url + "/v1/threads", headers=auth).json()["data"]
    assert [(t["id"], t["turns"]) for t in listed] == [("kitchen", 1)]
    one = httpx.get(server.url + "/v1/threads/kitchen", headers=auth).json()
    assert one["history"][0]["answer"]["answer"] == "2" and one["images"][0]["id"] == "img_0"
    assert httpx.get(server.url + "/v1/threads/nope", headers=auth).status_code == 404


def test_client_disconnecting_mid_stream_loses_no_turn(server):
    c = client(server)
    first = c.chat.completions.create(model="lavr", messages=[user("How many people?", data_url(photo()))])
    thread = first.model_extra["lavr"]["thread_id"]
    body = {"model": "lavr", "stream": True, "messages": [user("Where is obj_1?")]}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {TOKEN}", "X-Lavr-Thread": thread}) as r:
        assert r.status_code == 200
        next(r.iter_lines())  # the first event, then hang up
    deadline = time.monotonic() + 10
    while len(server.chat.history(thread)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    turns = server.chat.history(thread)
    assert [t.answer.answer for t in turns] == ["2", "right"]  # the turn in flight was committed, nothing lost
    again = c.chat.completions.create(model="lavr", messages=[user("Where is obj_1?")],
                                      metadata={"lavr_thread": thread})
    assert again.model_extra["lavr"]["turn"] == 2


def test_page_needs_the_token_as_password_when_one_is_set(settings):
    from lavr.chat.server import create_app

    settings = settings.model_copy(update={"server_token": "tok-123"})
    chat, _ = make_chat(settings, [answer("2")])
    with LiveServer(create_app(chat, settings, web=True)) as live:
        assert httpx.get(live.url + "/config").status_code == 401
        assert httpx.get(live.url + "/").headers["location"] == "/login"  # a browser is sent to the login form
        form = httpx.get(live.url + "/login").text
        assert 'type="password"' in form and "username" not in form.lower()  # the token, nothing else
        with httpx.Client(base_url=live.url) as http:
            assert http.post("/login", data={"password": "wrong"}).status_code == 401
            assert http.post("/login", data={"username": "x", "password": "tok-123"}).status_code == 303
            assert http.get("/config").status_code == 200 and http.get("/").status_code == 200
            assert http.get("/logout").status_code == 303 and http.get("/config").status_code == 401
        bearer = {"Authorization": "Bearer tok-123"}
        assert httpx.get(live.url + "/config", headers=bearer).status_code == 200  # the API's header works too
        assert httpx.get(live.url + "/v1/models").status_code == 401
