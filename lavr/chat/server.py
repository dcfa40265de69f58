"""An OpenAI-compatible HTTP server over a ``ChatService`` (FastAPI + uvicorn), with the web page at ``/``.

Endpoints:
    ``POST /v1/chat/completions``  OpenAI chat completions, ``stream`` true (server-sent events) or false.
    ``GET /v1/models``             the one model, ``Settings.server_model_name`` (``lavr``).
    ``GET|POST /v1/threads``, ``GET /v1/threads/{id}``   list, create, read threads (lavr's own).
    ``GET /health``                liveness, no auth.

Threads: a request names its thread with the ``X-Lavr-Thread`` header or ``metadata: {"lavr_thread": ID}``.
With a thread, only the last (user) message is new: the thread already holds the earlier turns. Without one,
the request is a whole conversation as OpenAI clients send it: a new thread is made, seeded with the earlier
user/assistant pairs and images, and the last message is answered; its id comes back in ``lavr.thread_id`` and
the ``X-Lavr-Thread`` response header. An id that does not exist is a 404.

The response is a normal ``chat.completion`` whose message content is the short answer, plus a ``lavr`` field
(thread id, turn index, the whole ``Answer`` with its trace) that OpenAI clients ignore (the official client keeps
it in ``model_extra``). The completion id ends with the thread id (``chatcmpl-<12 hex>-<thread id>``, see
``thread_of_completion``), so clients that keep only the standard fields (LangChain's ``ChatOpenAI``:
``response_metadata["id"]``) can still continue the thread.

Streams send the steps as they happen: a chunk per ``Progress`` (what starts next: the planner, or which tools on
which images; ``lavr.progress``) and per trace step (``lavr.step``), each with an empty delta, then the answer as
content, then a last chunk with the whole ``lavr`` field, then ``[DONE]``.

Auth: with ``LAVR_SERVER_TOKEN`` set, every ``/v1`` call needs ``Authorization: Bearer TOKEN`` (401 otherwise),
and the web page asks for it at ``/login`` (or takes the same header).

Every request passes ``lavr.chat.guard.RequestGuard`` first: the body bound (also for chunked bodies), quiet
hang-ups, and the files the web page's API may name (uploads, or inside ``LAVR_ALLOWED_ROOTS``).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from ..agents.events import Progress
from ..errors import BackendError, ImageError, InputError, LavrError, ThreadNotFound, ThreadStateError
from ..settings import Settings
from .content import ChatCompletionRequest, ImageTooLarge, check_image_path, read_image_url, split_conversation
from .guard import RequestGuard, error_body
from .models import ChatReply, ChatService, check_thread_id, completion_id, new_thread_id

logger = logging.getLogger(__name__)

THREAD_HEADER = "X-Lavr-Thread"
KEEPALIVE_S = 10.0


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


_error_body = error_body


def error_for(exc: Exception) -> ApiError:
    """The HTTP status and OpenAI-style error for a lavr exception."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ThreadNotFound):
        return ApiError(404, str(exc), "thread_not_found")
    if isinstance(exc, ImageTooLarge):
        return ApiError(413, str(exc), "image_too_large")
    if isinstance(exc, ImageError):
        return ApiError(400, str(exc), "invalid_image")
    if isinstance(exc, InputError):
        return ApiError(400, str(exc), "invalid_request")
    if isinstance(exc, ThreadStateError):
        return ApiError(500, str(exc), "thread_state_unreadable", "server_error")
    if isinstance(exc, BackendError):
        return ApiError(502, str(exc), "llm_unavailable", "server_error")
    if isinstance(exc, LavrError):
        return ApiError(500, str(exc), "lavr_error", "server_error")
    logger.exception("unexpected error", exc_info=exc)
    return ApiError(500, f"internal error ({type(exc).__name__})", "internal_error", "server_error")


def create_app(service: ChatService, settings: Settings, *, web: bool = True, workers: int = 32) -> FastAPI:
    """The FastAPI app: the OpenAI endpoints over ``service`` and, with ``web``, the Gradio page at ``/``."""
    app = FastAPI(title="lavr", docs_url=None, redoc_url=None, openapi_url=None)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lavr-turn")
    app.state.service, app.state.settings, app.state.pool = service, settings, pool
    max_body = 2 * settings.chat_max_image_bytes + 1_000_000

    def refused(request: Request, err: ApiError) -> JSONResponse:
        log_refusal(request.method, request.url.path, err)
        return JSONResponse(_error_body(err.message, err.code, err.kind), status_code=err.status)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return refused(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
                             for e in exc.errors()[:5])
        return refused(request, ApiError(400, f"invalid request body: {problems}", "invalid_body"))

    @app.exception_handler(LavrError)
    async def _lavr_error(request: Request, exc: LavrError) -> JSONResponse:
        return refused(request, error_for(exc))

    def auth(request: Request) -> None:
        token = settings.server_token
        if not token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "missing or wrong bearer token", "invalid_api_key")

    async def in_pool(fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", dependencies=[Depends(auth)])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": settings.server_model_name, "object": "model", "created": 0,
                                            "owned_by": "lavr"}]}

    @app.get("/v1/threads", dependencies=[Depends(auth)])
    async def threads() -> dict[str, Any]:
        infos = await in_pool(service.threads)
        return {"object": "list", "data": [i.model_dump() for i in infos]}

    @app.post("/v1/threads", dependencies=[Depends(auth)])
    async def create_thread(request: Request) -> dict[str, Any]:
        body = await _json_body(request, allow_empty=True)
        thread_id = body.get("id") if isinstance(body, dict) else None
        if thread_id is not None and not isinstance(thread_id, str):
            raise ApiError(400, "thread id must be a string", "invalid_body")
        new_id = await in_pool(service.new_thread, thread_id)
        return {"id": new_id, "object": "thread"}

    @app.get("/v1/threads/{thread_id}", dependencies=[Depends(auth)])
    async def thread(thread_id: str) -> dict[str, Any]:
        check_thread_id(thread_id)
        info = await in_pool(service.info, thread_id)
        turns = await in_pool(service.history, thread_id)
        return {"object": "thread", **info.model_dump(), "history": [t.model_dump(mode="json") for t in turns]}

    @app.post("/v1/chat/completions", dependencies=[Depends(auth)])
    async def completions(request: Request) -> Any:
        body = await _json_body(request)
        try:
            req = ChatCompletionRequest.model_validate(body)
        except ValueError as exc:
            raise RequestValidationError(getattr(exc, "errors", lambda: [])()) from None
        model = settings.server_model_name
        if req.model and req.model != model:
            raise ApiError(404, f"unknown model {req.model!r}; this server serves {model!r}", "model_not_found")
        conv = split_conversation(req.messages)
        thread_id = request.headers.get(THREAD_HEADER) or (req.metadata or {}).get("lavr_thread")
        images = [read_image_url(u, settings) for u in conv.images]
        create = not thread_id
        if thread_id:
            check_thread_id(thread_id)
            if not await in_pool(service.exists, thread_id):
                raise ThreadNotFound(f"no chat thread {thread_id!r}")
        else:
            images = [read_image_url(u, settings) for u in conv.earlier_images] + images
            thread_id = new_thread_id()
        send = functools.partial(service.send, thread_id, conv.text, images, create=create, history=conv.history)
        headers = {THREAD_HEADER: thread_id}
        if req.stream:
            include_usage = bool((req.stream_options or {}).get("include_usage"))
            return StreamingResponse(_stream(send, pool, thread_id, model, include_usage, request.url.path),
                                     media_type="text/event-stream", headers={**headers, "Cache-Control": "no-cache"})
        reply = await in_pool(send)
        return JSONResponse(completion_body(reply, model), headers=headers)

    check_path, uploads = None, None
    if web:
        from .web import mount_web, upload_folder

        mount_web(app, service, settings)
        uploads = upload_folder(settings)
        check_path = functools.partial(check_image_path, settings=settings, uploads=uploads)
    # Outermost: the body bound (counted as it streams), hang-ups, and the files the page's API may name.
    app.add_middleware(RequestGuard, max_body=max_body, check_path=check_path, uploads=uploads,
                       token=settings.server_token)
    app.router.on_shutdown.append(lambda: pool.shutdown(wait=False))
    return app


async def _json_body(request: Request, *, allow_empty: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "request body is empty; send a JSON object", "invalid_body")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"request body is not valid JSON ({exc})", "invalid_body") from None
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply", "invalid_body") from None


def _usage(reply: ChatReply) -> dict[str, int]:
    u = reply.turn.answer.usage
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens}


def _lavr_field(reply: ChatReply) -> dict[str, Any]:
    return {"thread_id": reply.thread_id, "turn": reply.turn.index, "images": reply.turn.images,
            "answer": reply.turn.answer.model_dump(mode="json")}


def log_refusal(method: str, path: str, err: ApiError) -> None:
    """A refused request as one log line: a client's mistake is a warning, never a traceback (a server error
    that is not lavr's own was logged whole by ``error_for``)."""
    level = logging.WARNING if err.status < 500 else logging.ERROR
    logger.log(level, "%s %s refused (%d %s): %s", method, path, err.status, err.code, " ".join(err.message.split()))


def event_fields(thread_id: str, event: Any) -> dict[str, Any]:
    """The ``lavr`` field of a streamed chunk for one run event: ``step`` (a trace step, as in the answer's
    ``steps``) or ``progress`` (``{"stage", "tools", "text"}``)."""
    key = "progress" if isinstance(event, Progress) else "step"
    return {"thread_id": thread_id, key: event.model_dump(mode="json")}


def completion_body(reply: ChatReply, model: str) -> dict[str, Any]:
    return {
        "id": completion_id(reply.thread_id), "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.turn.answer.answer},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(reply), "lavr": _lavr_field(reply),
    }


def _sse(obj: Any) -> bytes:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


async def _stream(send: Any, pool: ThreadPoolExecutor, thread_id: str, model: str, include_usage: bool,
                  path: str = "/v1/chat/completions") -> AsyncIterator[bytes]:
    """Server-sent events for one turn, each step as it happens. The turn runs to its commit even if the client
    goes away mid-stream."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    cid, created = completion_id(thread_id), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}

    def on_event(event: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    future = loop.run_in_executor(pool, lambda: send(on_step=on_event, on_progress=on_event))
    yield _sse(chunk({"role": "assistant", "content": ""}, lavr={"thread_id": thread_id}))

    def event_chunk(event: Any) -> bytes:
        return _sse(chunk({}, lavr=event_fields(thread_id, event)))

    getter: asyncio.Future[Any] | None = None
    try:
        while True:
            if getter is None:
                getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, future}, timeout=KEEPALIVE_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                event, getter = getter.result(), None
                yield event_chunk(event)
            elif future in done:  # events were queued before the turn returned: drain them, then finish
                while not queue.empty():
                    yield event_chunk(queue.get_nowait())
                break
            else:
                yield b": keep-alive\n\n"
    finally:
        if getter is not None:
            getter.cancel()
    try:
        reply = future.result()
    except Exception as exc:  # the stream has started: the error goes in an event, as OpenAI servers do
        err = error_for(exc)
        log_refusal("POST", path, err)
        yield _sse(_error_body(err.message, err.code, err.kind))
        yield b"data: [DONE]\n\n"
        return
    yield _sse(chunk({"content": reply.turn.answer.answer}))
    yield _sse(chunk({}, "stop", lavr=_lavr_field(reply)))
    if include_usage:
        yield _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [], "usage": _usage(reply)})
    yield b"data: [DONE]\n\n"


# how ``serve`` hands its settings and options to its worker processes: internal (the underscore), not a setting
SERVE_ENV = "_LAVR_SERVE_OPTIONS"


def serve(*, host: str = "127.0.0.1", port: int = 8000, settings: Settings | None = None, mode: str = "auto",
          llm: str | None = None, web: bool = True, workers: int = 1, log_level: str = "info") -> None:
    """Run the server until interrupted (``lavr serve``): a start-up line, then uvicorn's own lines and access log.

    ``workers`` > 1 starts that many processes on one socket (uvicorn's supervisor), each with its own model; they
    share threads through PostgreSQL (required) and serve the API only: the web page keeps a browser's session in
    one process, so it runs in a ``lavr serve`` of its own on the same database.

    Raises:
        InputError: ``workers`` > 1 with the web page, or without PostgreSQL.
    """
    import uvicorn

    from .logs import log_config

    settings = settings or Settings()
    if workers > 1:
        if web:
            raise InputError("--workers serves the API only (a browser's page session lives in one process): add "
                             "--no-web, and serve the page from one more `lavr serve` on the same PostgreSQL")
        if not settings.chat_postgres_url:
            raise InputError("--workers needs LAVR_CHAT_POSTGRES_URL: worker processes share threads through "
                             "PostgreSQL")
        import os

        options = {"host": host, "port": port, "mode": mode, "llm": llm or settings.llm, "workers": workers,
                   "settings": json.loads(settings.model_dump_json())}
        os.environ[SERVE_ENV] = json.dumps(options)  # spawned workers inherit the environment
        uvicorn.run(f"{__name__}:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_config=log_config(log_level), timeout_graceful_shutdown=5)
        return
    app = build_served_app(host=host, port=port, settings=settings, mode=mode, llm=llm, web=web)
    uvicorn.run(app, host=host, port=port, log_config=log_config(log_level), timeout_graceful_shutdown=5)


def build_served_app(*, host: str, port: int, settings: Settings, mode: str, llm: str | None, web: bool,
                     workers: int = 1) -> FastAPI:
    """The app ``serve`` runs: the agent and its threads, and the start-up line once the app starts."""
    from .logs import startup_line
    from .session import open_chat

    service = open_chat(mode, llm or settings.llm, settings=settings)
    app = create_app(service, settings, web=web)
    line = startup_line(host=host, port=port, service=service, settings=settings, web=web, workers=workers)
    app.router.on_startup.append(lambda: logger.info("%s", line))
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``serve(workers=N)`` (uvicorn calls it by name in each process)."""
    import os

    options = json.loads(os.environ[SERVE_ENV])
    settings = Settings.model_validate(options["settings"])
    return build_served_app(host=options["host"], port=options["port"], settings=settings, mode=options["mode"],
                            llm=options["llm"], web=False, workers=options["workers"])
