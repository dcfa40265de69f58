"""The web page at ``/``: Gradio's chatbot and multimodal textbox (upload or paste an image, ask, follow up; the
images show in the bubbles), a panel with the selected turn (the picture with the boxes its answer rests on first,
then every step folded, drawn by ``lavr.chat.web_view``) and this browser's threads (every thread, API clients'
too, only when asked). A turn's steps stream into the panel as they happen (``TurnStream``: the same run events
the API streams as ``lavr.step`` / ``lavr.progress``). A refused turn (no image yet, an unreadable file) is one
message in the chat and one warning line in the log. Gradio is mounted on the server's FastAPI app; analytics and
remote fonts are off so it works offline.

Files: the page reads only images uploaded through it (Gradio keeps them in ``DATA_DIR/chat/gradio``, its
temporary folder, private to the server's user) or, like ``file://`` URLs, files inside ``LAVR_ALLOWED_ROOTS``;
``lavr.chat.guard`` applies the same rule before Gradio sees a request.

Login: with ``LAVR_SERVER_TOKEN`` set, ``/login`` asks for the token (a password field, nothing else) and sets an
HTTP-only session cookie derived from it; the page and its API also accept ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import html
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import InputError, LavrError, ThreadNotFound
from ..images import load_image
from ..settings import Settings
from .content import read_image_path
from .conversation import trace_turn
from .guard import SESSION_COOKIE, has_credentials, session_value
from .models import ChatService, ChatTurn
from .streaming import TurnStream
from .web_view import EMPTY_PANEL, Thumbnails, TurnView, chat_messages, image_message, inline_pictures

logger = logging.getLogger(__name__)

SYSTEM_FONTS = ["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"]
NO_IMAGE = ("attach an image first (the paperclip, or paste one), then send your question again: it is still in the "
            "box")
TURNS_AT_ONCE = 16  # page turns that may run at once (each in its own thread; turns of one thread queue)


WEB_USER = "lavr"


def _same(value: Any) -> Any:
    """``value`` itself: bound with ``functools.partial``, a loader for a picture already in memory."""
    return value


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


def page_secret(settings: Settings) -> str:
    """The key the page's per-browser thread list is sealed with in the browser (kept in the data folder, so the
    list survives a restart of the server)."""
    path = settings.subdir("chat") / "page_secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(16))
    return path.read_text().strip()


def trace_html(service: ChatService, thread_id: str, turn: ChatTurn) -> str:
    """The panel of one turn as an HTML fragment, its pictures inline (the page itself serves them as files)."""

    def image_of(image_id: str) -> Any:
        try:
            return service.image(thread_id, image_id)
        except LavrError:
            return None

    return TurnView.of_turn(turn, inline_pictures(image_of)).html()


def thread_choices(service: ChatService, mine: list[str], show_all: bool) -> list[tuple[str, str]]:
    """The thread list: this browser's threads (newest first), or every thread (API clients' too) when asked."""
    listed = service.threads()
    if not show_all:
        wanted = set(mine or [])
        listed = [t for t in listed if t.id in wanted]
    return [(f"{t.title or t.id} · {t.turns} turn{'s' * (t.turns != 1)} · {t.updated[11:16]} · {t.id[-6:]}", t.id)
            for t in listed]


def build_blocks(service: ChatService, settings: Settings) -> Any:
    _gradio_env(settings)
    import gradio as gr

    uploads = upload_folder(settings)
    thumbs = Thumbnails(uploads)

    def read_files(files: list[Any]) -> list[bytes]:
        data = []
        for f in files or []:
            path = f if isinstance(f, str) else (f.get("path") if isinstance(f, dict) else getattr(f, "path", None))
            if path:  # an upload, or a file inside the allowed roots: the rule file:// URLs follow
                data.append(read_image_path(path, settings, uploads=uploads))
        return data

    def images_of(thread_id: str | None) -> Any:
        def image_of(image_id: str) -> Any:
            try:
                return service.image(thread_id, image_id) if thread_id else None
            except LavrError:
                return None
        return image_of

    def pictures(state: Any, attached: dict[str, tuple[str, Any]] | None = None) -> Any:
        """The panel's pictures as files the page serves: the thread's images by content hash, and images attached
        to the turn in flight (not in the thread yet) by the hash of their bytes."""
        hashes = {i.id: i.sha256 for i in state.images} if state else {}
        attached = attached or {}

        def picture_of(image_id: str, side: int) -> tuple[str, int, int] | None:
            if image_id in attached:
                key, pil = attached[image_id]
                return thumbs.url(key, lambda: pil, side)
            if image_id in hashes:
                return thumbs.url(hashes[image_id], lambda: service.image(state.id, image_id), side)
            return None

        return picture_of

    def turn_panel(state: Any, turn: ChatTurn) -> str:
        return TurnView.of_turn(turn, pictures(state)).html()

    def messages(state: Any) -> list[dict[str, Any]]:
        return chat_messages(state, images_of(state.id if state else None), thumbs)

    def view(thread_id: str | None) -> tuple[list[dict[str, Any]], str]:
        state = service.state(thread_id) if thread_id else None  # read once: it holds every turn's trace
        shown = trace_turn(state.turns) if state else None  # "why?" shows the answer it asks about
        panel = turn_panel(state, shown) if state and shown else EMPTY_PANEL
        return messages(state), panel

    def refused(thread_id: str | None, message: str) -> list[dict[str, Any]]:
        """The chat as it was, plus one message saying what went wrong (no error badges, no traceback)."""
        try:
            msgs = messages(service.state(thread_id) if thread_id else None)
        except LavrError:
            msgs = []
        return msgs + [{"role": "assistant", "content": f"⚠️ {message}"}]

    def submit(message: dict[str, Any] | None, thread_id: str | None, mine: list[str] | None,
               show_all: bool) -> Iterator[tuple[Any, ...]]:
        message = message or {}
        text = (message.get("text") or "").strip()
        mine = list(mine or [])
        skip = gr.skip()
        try:
            if not text:
                raise InputError("type a question first")
            files = read_files(message.get("files", []))
            state = service.state(thread_id) if thread_id else None
        except LavrError as exc:
            logger.warning("web page: turn refused: %s", " ".join(str(exc).split()))
            shown_thread = None if isinstance(exc, ThreadNotFound) else thread_id
            yield refused(shown_thread, str(exc)), skip, skip, skip, skip, skip
            return
        # The turn starts now; what the page shows of it is drawn meanwhile (its events wait in the stream).
        stream = TurnStream(functools.partial(service.send, thread_id or None, text, files)).start()
        try:
            shown = [load_image(data, max_pixels=settings.max_image_pixels)[0] for data in files]
        except LavrError:  # the turn refuses it too, and says why
            shown = []
        before = messages(state)
        count = len(state.images) if state else 0
        attached = {f"img_{count + n}": (hashlib.sha256(data).hexdigest(), pil)
                    for n, (data, pil) in enumerate(zip(files, shown))}
        focus = list(attached)[-1] if attached else (f"img_{count - 1}" if count else "")
        live = TurnView(text, focus, pictures(state, attached))
        bubbles = [image_message(thumbs.path(key, functools.partial(_same, pil)), image_id)
                   for image_id, (key, pil) in attached.items()]
        asked = {"role": "user", "content": bubbles + [text]}

        def pending(note: str | None = None) -> list[dict[str, Any]]:
            steps = len(live.steps)
            title = note or (f"{live.status}…" if live.status else "working…")
            return before + [asked, {"role": "assistant", "content": f"{steps} step{'s' * (steps != 1)} so far",
                                     "metadata": {"title": title, "status": "pending"}}]

        for event in stream.ready():  # what the turn said while the page drew: in the first update already
            live.add(event)
        yield pending(None if live.events else "sending…"), live.html(), skip, skip, None, skip
        for events in stream.batches():  # what arrived while the page drew the last one, drawn at once
            for event in events:
                live.add(event)
            yield pending(), live.html(), skip, skip, skip, skip
        if stream.error is not None:
            error, box_again = stream.error, skip
            if not isinstance(error, LavrError):
                logger.error("web page: the turn failed", exc_info=error)
                error = LavrError(f"the turn failed ({type(error).__name__}); nothing was saved")
            else:
                logger.warning("web page: turn refused: %s", " ".join(str(error).split()))
                if not files and str(error).startswith("attach an image first"):  # keep the question for the image
                    error, box_again = InputError(NO_IMAGE), gr.update(value={"text": text, "files": []})
            panel = view(thread_id)[1] if thread_id else EMPTY_PANEL
            yield refused(thread_id, str(error)), panel, skip, skip, box_again, skip
            return
        reply = stream.reply
        assert reply is not None
        tid = reply.thread_id
        if tid not in mine:
            mine.append(tid)
        msgs, panel = view(tid)
        yield msgs, panel, gr.update(choices=thread_choices(service, mine, show_all), value=tid), tid, skip, mine

    def select(thread_id: str | None) -> tuple[Any, ...]:
        if not thread_id:
            return [], EMPTY_PANEL, None
        try:
            msgs, panel = view(thread_id)
        except LavrError as exc:
            return refused(None, str(exc)), EMPTY_PANEL, None
        return msgs, panel, thread_id

    def show_turn(thread_id: str | None, evt: gr.SelectData) -> Any:
        """A click on a message shows its turn's panel (messages 2n and 2n+1 are turn n)."""
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not thread_id or not isinstance(index, int):
            return gr.skip()
        state = service.state(thread_id)
        if not 0 <= index // 2 < len(state.turns):
            return gr.skip()
        return turn_panel(state, state.turns[index // 2])

    show_turn.__annotations__["evt"] = gr.SelectData  # how Gradio knows to pass it (annotations are strings here)

    def new(mine: list[str] | None, show_all: bool) -> tuple[Any, ...]:
        return [], EMPTY_PANEL, gr.update(choices=thread_choices(service, mine or [], show_all), value=None), None

    def refresh(thread_id: str | None, mine: list[str] | None, show_all: bool) -> Any:
        return gr.update(choices=thread_choices(service, mine or [], show_all), value=thread_id)

    with gr.Blocks(title="lavr chat", analytics_enabled=False) as blocks:
        thread = gr.State(None)
        mine = gr.BrowserState([], storage_key="lavr_threads", secret=page_secret(settings))
        gr.Markdown("## lavr — ask about images\nAttach or paste an image, ask, then follow up. Images are "
                    "named img_0, img_1, … in a thread; the answers come from expert tools: the picture on the "
                    "right shows what an answer rests on, and its steps below it.")
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                new_btn = gr.Button("New thread", elem_id="lavr-new")
                threads = gr.Radio(choices=[], label="Your threads", elem_id="lavr-threads", interactive=True)
                show_all = gr.Checkbox(False, label="Show every thread (API clients' too)", elem_id="lavr-all")
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(elem_id="lavr-chat", label="Chat", height=440, feedback_options=None)
                box = gr.MultimodalTextbox(elem_id="lavr-input", file_types=["image"], file_count="multiple",
                                           placeholder="Ask about an image (attach or paste one first)…",
                                           show_label=False, sources=["upload"])
            with gr.Column(scale=3):
                panel = gr.HTML(EMPTY_PANEL, elem_id="lavr-trace", label="What the answer rests on")
        box.submit(submit, [box, thread, mine, show_all], [chatbot, panel, threads, thread, box, mine],
                   concurrency_limit=TURNS_AT_ONCE)
        threads.input(select, [threads], [chatbot, panel, thread])
        show_all.change(refresh, [thread, mine, show_all], [threads])
        new_btn.click(new, [mine, show_all], [chatbot, panel, threads, thread])
        chatbot.select(show_turn, [thread], [panel])
        blocks.load(refresh, [thread, mine, show_all], [threads])
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
