"""The terminal chat (``lavr chat``): a prompt with line editing and history, a live status line while the experts
and the LLM work, the thread id when a thread starts, the last turns when one resumes, and a readable ``/trace``.

On a terminal, lines are read with prompt_toolkit (editing, history kept in ``DATA_DIR/chat/repl_history``, Ctrl-R
search) and a status line (spinner, what runs now, seconds) is redrawn in place while a turn runs, fed by the
turn's step callbacks. Piped input and output get plain lines: answers only, no control sequences.

Everything that came from the LLM, the tools, a file name or a thread goes through ``for_terminal``; the status
line's own cursor controls are the only control characters lavr writes itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..agents.events import Progress
from ..errors import InputError, LavrError
from ..terminal import for_terminal
from ..trace import AnswerStep, PlanStep, RefusalStep, RetryStep, ToolStep

REPL_HELP = ("commands: /image PATH (attach an image, or sample:NAME, to the next message), /trace (the last "
             "turn's steps, one line each; /trace N: step N in full; /trace all: every step in full), /new (start a "
             "new thread), /threads (list threads), /thread ID (switch), /help, /quit (or Ctrl-D)")
NO_IMAGE = "attach an image first: /image PATH (or /image sample:bus), then ask again; no thread was started"
RESUME_TURNS = 3  # turns shown when a thread resumes
CLEAR_LINE = "\r\x1b[2K"


def terminal_width(out: IO[str]) -> int:
    return shutil.get_terminal_size((100, 24)).columns if is_tty(out) else 100


def is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def fit(text: str, width: int) -> str:
    """``text`` on one line of at most ``width`` characters (whitespace folded; an ellipsis where it is cut)."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[:max(0, width - 1)] + "…"


# The trace, folded and in full ---------------------------------------------------------------------------------

def step_head(step: Any) -> str:
    """``#2 tool scene_graph · 1.23 s · cached``."""
    what = f"tool {step.tool}" if isinstance(step, ToolStep) else step.kind
    cached = " · cached" if isinstance(step, ToolStep) and step.cached else ""
    return f"#{step.index} {what} · {step.seconds:.2f} s{cached}"


def step_gist(step: Any) -> str:
    """What a step did, in one line (before it is fitted to the terminal)."""
    if isinstance(step, ToolStep):
        return f"{json.dumps(step.args)} -> {step.observation()}"
    if isinstance(step, PlanStep):
        calls = "; ".join(f"{c.tool}({json.dumps(c.args)})" for c in step.tool_calls)
        program = step.program if isinstance(step.program, str) else ""
        return " ".join(part for part in (step.thought or "", program and f"program {program}", f"-> {calls}") if part)
    return step.prompt_text()


def step_details(step: Any, width: int = 100) -> str:
    """Everything a step holds, in full, as labelled paragraphs wrapped to ``width``."""
    parts: list[tuple[str, str]] = []
    if isinstance(step, ToolStep):
        parts += [("args", json.dumps(step.args, indent=1)), ("result", step.result or "")]
        parts += [("error", step.error)] if step.error else []
    elif isinstance(step, PlanStep):
        parts += [("thought", step.thought or "")]
        if step.program:
            parts.append(("program", step.program if isinstance(step.program, str)
                          else json.dumps(step.program, indent=1)))
        parts += [("calls", "\n".join(f"{c.tool} {json.dumps(c.args)}" for c in step.tool_calls)),
                  ("reply", step.raw_reply or "")]
    elif isinstance(step, RetryStep):
        parts += [("error", step.error), ("reply", step.raw_reply or "")]
    elif isinstance(step, RefusalStep):
        parts += [("reason", step.reason), ("calls", "\n".join(f"{c.tool} {json.dumps(c.args)}"
                                                               for c in step.tool_calls))]
    elif isinstance(step, AnswerStep):
        parts += [("answer", step.answer), ("rationale", step.rationale), ("thought", step.thought or "")]
        parts += [("error", step.error)] if step.error else []
    if step.usage and step.usage.llm_calls:
        parts.append(("LLM", f"{step.usage.llm_calls} call(s), {step.usage.prompt_tokens} prompt + "
                             f"{step.usage.completion_tokens} completion tokens"))
    return "\n".join(f"  {label}:\n{wrap(text, width, '    ')}" for label, text in parts if text)


def wrap(text: str, width: int, indent: str) -> str:
    """Each line of ``text`` wrapped to ``width`` (long words broken too), indented; nothing is dropped."""
    out: list[str] = []
    for line in text.splitlines() or [""]:
        lead = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, max(20, width), initial_indent=indent, subsequent_indent=indent + lead,
                             replace_whitespace=False, drop_whitespace=True, break_on_hyphens=False) or [indent]
    return "\n".join(out)


def format_trace(answer: Any, which: str, width: int) -> str:
    """``/trace``: one line per step (``which`` empty), one step in full (a step number), or all in full."""
    steps = list(answer.steps)
    if not steps:
        return "(no steps)"
    if not which:
        lines = [fit(f"{step_head(s)}: {step_gist(s)}", width) for s in steps]
        lines.append(fit(f"answer {answer.answer!r} · {answer.seconds:.2f} s · {answer.usage.llm_calls} LLM calls; "
                         "/trace N shows step N in full, /trace all every step", width))
        return "\n".join(lines)
    if which == "all":
        return "\n\n".join(f"{step_head(s)}\n{step_details(s, width)}" for s in steps)
    if not which.isdigit() or not any(s.index == int(which) for s in steps):
        raise LavrError(f"no step {which!r} in the last turn: steps are {', '.join(str(s.index) for s in steps)}")
    step = next(s for s in steps if s.index == int(which))
    return f"{step_head(step)}\n{step_details(step, width)}"


# The live status line ------------------------------------------------------------------------------------------

class StatusLine:
    """One line redrawn in place while a turn runs: a spinner, what runs now, seconds so far. Off (silent) when
    the output is not a terminal. Use as a context manager; ``set`` is safe from any thread."""

    def __init__(self, out: IO[str], *, enabled: bool, text: str = "working", width: int = 100,
                 interval_s: float = 0.1):
        self.out, self.enabled, self.width, self.interval_s = out, enabled, width, interval_s
        utf = "utf" in (getattr(out, "encoding", "") or "").lower()
        self.frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" if utf else "|/-\\"
        self.text = text
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.history: list[str] = [text]  # every text shown, in order

    def set(self, text: str) -> None:
        with self._lock:
            self.text = text
            self.history.append(text)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            frame = self.frames[int((time.monotonic() - self.started) / self.interval_s) % len(self.frames)]
            tail = f" · {time.monotonic() - self.started:.1f} s"
            line = fit(for_terminal(self.text), max(10, self.width - len(tail) - 3))
            self.out.write(f"{CLEAR_LINE}{frame} {line}{tail}")
            self.out.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._draw()

    def __enter__(self) -> StatusLine:
        self.started = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="lavr-status", daemon=True)
            self._thread.start()
            self._draw()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1)
        if self.enabled:
            with self._lock:
                self.out.write(CLEAR_LINE)
                self.out.flush()


# The chat loop -------------------------------------------------------------------------------------------------

class Repl:
    """Reads lines, answers them. Errors are printed as ``lavr: error: ...`` and the session goes on.

    Args:
        service: the ``ChatService``.
        thread_id: a thread to resume (its last turns are shown; ``ThreadNotFound`` if there is none).
        out, err: where answers and errors go.
        interactive: a person at a terminal (status line, footers); default: whether ``out`` is a terminal.
    """

    def __init__(self, service: Any, *, thread_id: str | None = None, out: IO[str] = sys.stdout,
                 err: IO[str] = sys.stderr, interactive: bool | None = None):
        self.service, self.out, self.err = service, out, err
        self.interactive = is_tty(out) if interactive is None else interactive
        self.thread_id = thread_id
        self.pending: list[Any] = []
        self.pending_names: list[str] = []
        self.last: Any = None
        self.resumed: list[Any] = service.history(thread_id) if thread_id is not None else []  # ThreadNotFound now

    def say(self, text: str) -> None:
        print(for_terminal(text), file=self.out, flush=True)

    def error(self, text: str) -> None:
        print(for_terminal(f"lavr: error: {text}"), file=self.err, flush=True)

    @property
    def width(self) -> int:
        return terminal_width(self.out)

    def attach(self, path: str) -> None:
        from ..images import load_image
        from ..samples import resolve_image_arg

        image = resolve_image_arg(path)
        s = self.service.settings
        pil, _ = load_image(image, max_pixels=s.max_image_pixels, allowed_roots=s.allowed_roots)  # fail now
        self.pending.append(image)
        self.pending_names.append(path)
        self.say(f"attached {path} ({pil.width}x{pil.height}; sent with your next message)")

    def show_turns(self, turns: list[Any], *, last: int = RESUME_TURNS) -> None:
        """The last turns of a thread: the question (with the images attached), the answer."""
        shown = turns[-last:]
        if len(turns) > len(shown):
            self.say(f"  ({len(turns) - len(shown)} earlier turns; /trace after a question shows its steps)")
        for turn in shown:
            images = f" [{', '.join(turn.images)}]" if turn.images else ""
            self.say(f"  you:  {fit(turn.text, self.width - 8)}{images}")
            self.say(f"  lavr: {fit(turn.answer.answer, self.width - 8)}")

    def resume_note(self) -> None:
        turns = self.resumed
        self.say(f"resuming thread {self.thread_id} ({len(turns)} turn{'s' * (len(turns) != 1)}):")
        self.show_turns(turns)
        if turns:
            self.last = turns[-1]

    def command(self, line: str) -> bool:
        """Run a /command; False to quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit"):
            return False
        if name == "/image":
            if not arg:
                raise LavrError("usage: /image PATH (or sample:NAME)")
            self.attach(arg)
        elif name == "/trace":
            if self.last is None:
                self.say("no turn yet")
            else:
                self.page(format_trace(self.last.answer, arg, self.width))
        elif name == "/new":
            self.thread_id, self.last, self.pending, self.pending_names = None, None, [], []
            self.say("new thread (it starts with your next message, which needs an image)")
        elif name == "/threads":
            threads = self.service.threads()
            if not threads:
                self.say("no threads yet")
            for t in threads:
                mark = "*" if t.id == self.thread_id else " "
                self.say(fit(f"{mark} {t.id}  {t.turns:>3} turns  {t.updated}  {t.title}", self.width))
        elif name == "/thread":
            if not arg:
                raise LavrError("usage: /thread ID (see /threads)")
            turns = self.service.history(arg)
            self.thread_id, self.last, self.resumed = arg, None, turns
            self.resume_note()
        elif name == "/help":
            self.say(REPL_HELP)
        else:
            raise LavrError(f"unknown command {name}; {REPL_HELP}")
        return True

    def page(self, text: str) -> None:
        """Long text through the pager (``$PAGER``, else ``less``) on a terminal; printed as it is otherwise."""
        rows = shutil.get_terminal_size((100, 24)).lines
        if self.interactive and is_tty(sys.stdin) and text.count("\n") + 1 > rows - 2:
            import pydoc

            pydoc.pager(for_terminal(text))
        else:
            self.say(text)

    def ask(self, text: str) -> None:
        sending = "sending" + (f" {', '.join(self.pending_names)}" if self.pending_names else "")
        status = StatusLine(self.out, enabled=self.interactive, text=sending, width=self.width)

        def on_progress(progress: Progress) -> None:
            status.set(progress.text)

        def on_step(step: Any) -> None:
            status.set(f"{step_head(step)} done")

        try:
            with status:
                reply = self.service.send(self.thread_id, text, self.pending, on_step=on_step,
                                          on_progress=on_progress)
        except InputError as exc:
            if self.thread_id is None and str(exc).startswith("attach an image first"):
                self.say(NO_IMAGE)  # the service refused before it made a thread: nothing was started
                return
            raise
        started = self.thread_id is None
        self.pending, self.pending_names = [], []
        self.thread_id, self.last = reply.thread_id, reply.turn
        if started:
            self.say(f"new thread {reply.thread_id} (resume it with: lavr chat --thread {reply.thread_id})")
        answer = reply.turn.answer
        self.say(answer.answer)
        if self.interactive:
            self.say(f"  ({len(answer.steps)} steps · {answer.seconds:.1f} s · /trace to see how)")

    def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line)
        self.ask(line)
        return True

    def run(self, lines: Iterable[str]) -> int:
        if self.thread_id is not None:
            self.resume_note()
        else:
            self.say("lavr chat. Attach an image with /image PATH (or sample:NAME), then ask; /help for commands.")
        for line in lines:
            try:
                if not self.handle(line):
                    break
            except LavrError as exc:
                self.error(str(exc))
            except KeyboardInterrupt:
                self.say("interrupted: that turn was not saved")
        if self.thread_id:
            self.say(f"thread: {self.thread_id}")
        return 0


def terminal_lines(history_file: Path, prompt: str = "lavr> ") -> Iterator[str]:
    """Lines typed at a terminal: prompt_toolkit's editing (arrows, Ctrl-A/E, Ctrl-R search), history kept in
    ``history_file``. Ctrl-C clears the line, Ctrl-D ends."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history_file.parent.mkdir(parents=True, exist_ok=True)
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history_file)))
    while True:
        try:
            yield session.prompt(prompt)
        except KeyboardInterrupt:
            continue
        except EOFError:
            return


def readline_lines(history_file: Path, prompt: str = "lavr> ") -> Iterator[str]:
    """Lines typed at a terminal with the standard library's readline (editing and history) where prompt_toolkit
    is not installed."""
    import readline

    history_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        readline.read_history_file(history_file)
    except OSError:
        pass
    try:
        while True:
            try:
                yield input(prompt)
            except KeyboardInterrupt:
                print(file=sys.stdout)
            except EOFError:
                return
    finally:
        readline.write_history_file(history_file)


def piped_lines(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")


def input_lines(settings: Any) -> Iterator[str]:
    """prompt_toolkit lines on a terminal (readline's without it), plain lines from a pipe."""
    if is_tty(sys.stdin) and is_tty(sys.stdout) and os.environ.get("TERM") != "dumb":
        history = settings.subdir("chat") / "repl_history"
        try:
            import prompt_toolkit  # noqa: F401 - the chat extra
        except ImportError:
            return readline_lines(history.with_name("repl_history.readline"))
        return terminal_lines(history)
    return piped_lines(sys.stdin)
