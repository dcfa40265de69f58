"""The server's outermost layer (pure ASGI), in front of the API and the web page alike:

- **Body size**: a request body is counted as it streams (``Content-Length`` or chunked, whatever the headers
  claim) and refused with 413 once it passes the bound; nothing larger is ever held in memory. With a server
  token, a request that carries a body but no credentials is refused (401) before any of it is read.
- **A client that hangs up** while its body is being read ends the request quietly (a debug log line, not a
  traceback).
- **Files named by the web page's API**: Gradio copies every file a request names (``{"path": ...}``) into its
  cache and then serves it, and it skips its own path check for a mounted app. Every such path must pass lavr's
  one rule for image paths (``lavr.chat.content.check_image_path``: an upload, or inside
  ``LAVR_ALLOWED_ROOTS``) before Gradio sees the request; ``/gradio_api/file=`` serves only uploads, and never
  fetches a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

from ..errors import ImageError

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GRADIO_API = "/gradio_api/"
GRADIO_FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/")  # the second is Gradio's older spelling


SESSION_COOKIE = "lavr_session"
OPEN_WITH_A_BODY = ("/login", "/login/")  # the login form: the one request with a body that needs no token


def session_value(token: str) -> str:
    """The web page's session cookie value: derived from the token, so it changes when the token does."""
    return hmac.new(token.encode(), b"lavr web page session", hashlib.sha256).hexdigest()


def has_credentials(conn: HTTPConnection, token: str) -> bool:
    """Whether a request carries ``Authorization: Bearer TOKEN`` or the web page's session cookie."""
    scheme, _, given = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    return hmac.compare_digest(conn.cookies.get(SESSION_COOKIE, "").encode(), session_value(token).encode())


def error_body(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, counted as it arrives.

    Raises:
        BodyTooLarge: more than ``limit`` bytes arrived (reading stops there).
        ClientGone: the client disconnected first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def named_paths(document: Any) -> list[str]:
    """Every ``path`` a JSON document names as a file (a dict with a string ``path``, Gradio's ``FileData``, with
    or without its ``meta``), found without recursion (the document may be nested deep)."""
    found: list[str] = []
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("path"), str):
                found.append(node["path"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class RequestGuard:
    """ASGI middleware (see the module docstring).

    Args:
        app: The application it guards.
        max_body: The largest request body accepted, in bytes.
        check_path: Raises ``ImageError`` for a file path the web page's API may not name (``None``: no page).
        uploads: The folder of the page's uploads, the only files ``/gradio_api/file=`` serves.
        token: The server token (None: no auth).
    """

    def __init__(self, app: ASGIApp, *, max_body: int, check_path: Callable[[str], Any] | None = None,
                 uploads: Path | None = None, token: str | None = None):
        self.app, self.max_body, self.check_path, self.uploads = app, max_body, check_path, uploads
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = "/" + scope.get("path", "").lstrip("/")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        with_body = b"transfer-encoding" in headers or (declared.isdigit() and int(declared) > 0)
        if (with_body and self.token and path not in OPEN_WITH_A_BODY
                and not has_credentials(HTTPConnection(scope), self.token)):
            await _send_json(send, 401, error_body("missing or wrong bearer token", "invalid_api_key"))
            return
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)
            return
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge:
            await self._too_large(send)
            return
        except ClientGone:
            logger.debug("client disconnected before sending its whole request (%s %s)", scope.get("method"), path)
            return
        refusal = self._refusal(scope, path, body)
        if refusal is not None:
            await _send_json(send, *refusal)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(send, 413, error_body(f"request body is larger than {self.max_body:,} bytes",
                                               "body_too_large"))

    def _refusal(self, scope: Scope, path: str, body: bytes) -> tuple[int, dict[str, Any]] | None:
        """(status, error) when a request to the web page's API names a file it may not, else None."""
        if self.check_path is None or not path.startswith(GRADIO_API):
            return None
        for route in GRADIO_FILE_ROUTES:
            if path.startswith(route):
                return self._file_route(path[len(route):])  # the decoded path, as Gradio's route reads it
        if scope.get("method") != "POST" or not body:
            return None
        try:  # parsed as Gradio will parse it (json.loads of the bytes also reads UTF-16 and UTF-32)
            document = json.loads(body)
        except RecursionError:
            return 400, error_body("request body is nested too deeply", "invalid_body")
        except ValueError:  # not JSON (an upload is multipart: the body bound and max_file_size cover it)
            return None
        for named in named_paths(document):
            try:
                if "://" in named:
                    raise ImageError(f"{named[:80]}: URLs are not files; upload the image instead")
                self.check_path(named)
            except ImageError as exc:
                logger.warning("web page request refused: %s", exc)
                return 403, error_body(str(exc), "file_not_allowed")
        return None

    def _file_route(self, named: str) -> tuple[int, dict[str, Any]] | None:
        """``/gradio_api/file=...`` serves uploads only: no URL (Gradio would fetch it), nothing elsewhere."""
        target = Path(named)
        inside = (self.uploads is not None and target.is_absolute()
                  and target.resolve().is_relative_to(self.uploads.resolve()))
        if "://" in named or not inside:
            return 403, error_body("only files uploaded through this page are served", "file_not_allowed")
        return None
