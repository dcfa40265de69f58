"""A tiny OpenAI-compatible chat server on 127.0.0.1 that replays scripted responses and records requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str | None = None, tool_calls: list[tuple[str, dict]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, (n, a) in enumerate(tool_calls)
        ]
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}}


class FakeOpenAI:
    """``responses`` items: a dict body (200), ``(status, body)`` or ``(status, body, content_type)``; a ``bytes``
    body is sent as is (default ``text/html``, like a proxy's page). ``responses`` may instead be a function of the
    request body that answers every request (a server with a behaviour rather than a script; the ``openai`` client
    repeats a request after a 5xx, so a script would have to know how often). ``requests`` collects the bodies."""

    def __init__(self, responses: list[Any] | Callable[[dict[str, Any]], Any]):
        self.respond = responses if callable(responses) else None
        self.responses = [] if callable(responses) else list(responses)
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if fake.respond is not None:
                    item = fake.respond(body)
                elif fake.responses:
                    item = fake.responses.pop(0)
                else:
                    item = (500, {"error": {"message": "script ended"}})
                status, payload, *ctype = item if isinstance(item, tuple) else (200, item)
                raw = isinstance(payload, bytes)
                data = payload if raw else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype[0] if ctype else "text/html" if raw else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
