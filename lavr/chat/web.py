"""The web page at ``/``: Gradio's chatbot and multimodal textbox (upload or paste an image, ask, follow up), the
visual trace of the last answer (the image with each step's boxes, drawn by ``lavr.trace_html``) and the thread
list. Gradio is mounted on the server's FastAPI app; analytics and remote fonts are off so it works offline.

Files: the page reads only images uploaded through it (Gradio keeps them in ``DATA_DIR/chat/gradio``, its
temporary folder, private to the server's user) or, like ``file://`` URLs, files inside ``LAVR_ALLOWED_ROOTS``;
``lavr.chat.guard`` applies the same rule before Gradio sees a request.

Login: with ``LAVR_SERVER_TOKEN`` set, ``/login`` asks for the token (a password field, nothing else) and sets an
HTTP-only session cookie derived from it; the page and its API also accept ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import hmac
import html
import logging
import os
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import LavrError
from ..settings import Settings
from ..trace_html import STYLE, render_trace_body
from .content import read_image_path
from .conversation import trace_turn
from .guard import SESSION_COOKIE, has_credentials, session_value
from .models import ChatService, ChatTurn

logger = logging.getLogger(__name__)

EMPTY_TRACE = '<div class="lavr-trace"><p>The visual trace of the last answer shows here.</p></div>'
TRACE_CSS = ".lavr-trace { max-height: 80vh; overflow-y: auto; } .lavr-trace h1 { font-size: 1.2em; }"
SYSTEM_FONTS = ["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"]


WEB_USER = "lavr"


def upload_folder(settings: Settings) -> Path:
    """Gradio's temporary folder (uploads and the copies it serves): inside the data folder, private to the
    server's user, never a folder shared with other users such as ``/tmp/gradio``."""
    folder = settings.subdir("chat") / "gradio"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    return folder


def _gradio_env(settings: Settings) -> None:
    # Set before gradio is imported (some of its modules read these once): no usage analytics, no version check,
    # no hub calls; its temporary files and example cache inside lavr's data folder.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    folder = upload_folder(settings)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(folder / "examples")


def trace_html(service: ChatService, thread_id: str, turn: ChatTurn) -> str:
    """The visual trace of one turn as an HTML fragment (all text escaped by ``render_trace_body``)."""
    answer = turn.answer
    images = {i.id: service.image(thread_id, i.id) for i in service.info(thread_id).images}
    focus = images.get(answer.image) or service.image(thread_id, answer.image)
    body = render_trace_body(answer, focus, images=images, input_figure=False)
    return (f'<div class="lavr-trace" data-turn="{turn.index}"><style>{STYLE}{TRACE_CSS}</style>{body}</div>')


def chat_messages(service: ChatService, thread_id: str | None) -> list[dict[str, Any]]:
    """The thread as Gradio chatbot messages: each turn's text (naming its images) and the answer."""
    if not thread_id:
        return []
    out: list[dict[str, Any]] = []
    for turn in service.history(thread_id):
        note = f"\n\n(attached {', '.join(turn.images)})" if turn.images else ""
        out.append({"role": "user", "content": turn.text + note})
        out.append({"role": "assistant", "content": turn.answer.answer})
    return out


def _thread_choices(service: ChatService) -> list[tuple[str, str]]:
    return [(f"{t.title or t.id} · {t.turns} turns", t.id) for t in service.threads()]


def build_blocks(service: ChatService, settings: Settings) -> Any:
    _gradio_env(settings)
    import gradio as gr

    uploads = upload_folder(settings)

    def read_files(files: list[Any]) -> list[bytes]:
        data = []
        for f in files or []:
            path = f if isinstance(f, str) else (f.get("path") if isinstance(f, dict) else getattr(f, "path", None))
            if path:  # an upload, or a file inside the allowed roots: the rule file:// URLs follow
                data.append(read_image_path(path, settings, uploads=uploads))
        return data

    def view(thread_id: str | None) -> tuple[Any, ...]:
        shown = trace_turn(service.history(thread_id)) if thread_id else None  # "why?" shows the answer it asks about
        trace = trace_html(service, thread_id, shown) if shown else EMPTY_TRACE
        return chat_messages(service, thread_id), trace

    def submit(message: dict[str, Any] | None, thread_id: str | None) -> tuple[Any, ...]:
        message = message or {}
        text = (message.get("text") or "").strip()
        try:
            reply = service.send(thread_id or None, text, read_files(message.get("files", [])))
        except LavrError as exc:
            logger.info("web page turn refused: %s", exc)
            raise gr.Error(str(exc)) from None
        tid = reply.thread_id
        msgs, trace = view(tid)
        return (msgs, trace, gr.update(choices=_thread_choices(service), value=tid), tid,
                gr.update(value=None))

    def select(thread_id: str | None) -> tuple[Any, ...]:
        if not thread_id:
            return [], EMPTY_TRACE, None
        try:
            msgs, trace = view(thread_id)
        except LavrError as exc:
            raise gr.Error(str(exc)) from None
        return msgs, trace, thread_id

    def new() -> tuple[Any, ...]:
        return [], EMPTY_TRACE, gr.update(choices=_thread_choices(service), value=None), None

    def refresh(thread_id: str | None) -> Any:
        return gr.update(choices=_thread_choices(service), value=thread_id)

    with gr.Blocks(title="lavr chat", analytics_enabled=False) as blocks:
        thread = gr.State(None)
        gr.Markdown("## lavr — ask about images\nAttach or paste an image, ask, then follow up. Images are "
                    "named img_0, img_1, … in a thread; answers come from expert tools, shown in the trace.")
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                new_btn = gr.Button("New thread", elem_id="lavr-new")
                threads = gr.Radio(choices=[], label="Threads", elem_id="lavr-threads", interactive=True)
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(elem_id="lavr-chat", label="Chat", height=360, feedback_options=None)
                box = gr.MultimodalTextbox(elem_id="lavr-input", file_types=["image"], file_count="multiple",
                                           placeholder="Ask about an image (attach or paste one first)…",
                                           show_label=False, sources=["upload"])
            with gr.Column(scale=3):
                trace = gr.HTML(EMPTY_TRACE, elem_id="lavr-trace", label="Trace")
        box.submit(submit, [box, thread], [chatbot, trace, threads, thread, box])
        threads.input(select, [threads], [chatbot, trace, thread])
        new_btn.click(new, [], [chatbot, trace, threads, thread])
        blocks.load(refresh, [thread], [threads])
    return blocks


def web_user(request: Any, token: str) -> str | None:
    """``WEB_USER`` when the request carries the session cookie or ``Authorization: Bearer TOKEN``, else None."""
    return WEB_USER if has_credentials(request, token) else None


LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>lavr: log in</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 24em; margin: 5em auto; }} input {{ width: 100%; }}
.error {{ color: #b00; }}</style></head><body><h1>lavr chat</h1>{error}
<form method="post" action="/login"><label>Token (the server's LAVR_SERVER_TOKEN)<br>
<input type="password" name="password" autocomplete="current-password" autofocus required></label>
<p><button type="submit">Log in</button></p></form></body></html>"""


def add_login(app: Any, token: str) -> None:
    """``/login`` (a password form: the token), ``/logout``, and ``/`` sending a browser without a session there."""

    def page(error: str = "", status: int = 200) -> HTMLResponse:
        note = f'<p class="error">{html.escape(error)}</p>' if error else ""
        return HTMLResponse(LOGIN_PAGE.format(error=note), status_code=status)

    @app.get("/login", include_in_schema=False)
    async def login_form() -> HTMLResponse:
        return page()

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Any:
        form = await request.form()
        given = str(form.get("password") or "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return page("Wrong token.", 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session_value(token), httponly=True, samesite="strict", path="/")
        return response

    @app.get("/logout", include_in_schema=False)
    async def logout() -> Any:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.middleware("http")
    async def _login_first(request: Request, call_next: Any) -> Any:
        if request.url.path == "/" and request.method in ("GET", "HEAD") and web_user(request, token) is None:
            return RedirectResponse("/login", status_code=303)
        return await call_next(request)


def mount_web(app: Any, service: ChatService, settings: Settings) -> None:
    """Mount the page at ``/`` (last, so the API routes keep precedence). A server token is the page's password."""
    _gradio_env(settings)
    import gradio as gr

    token = settings.server_token
    if token:
        add_login(app, token)
    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"])
    gr.mount_gradio_app(app, build_blocks(service, settings), path="/",
                        auth_dependency=(lambda request: web_user(request, token)) if token else None,
                        ssr_mode=False, theme=theme, footer_links=[], max_file_size=settings.chat_max_image_bytes,
                        mcp_server=False, allowed_paths=[])
