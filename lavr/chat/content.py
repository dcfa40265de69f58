"""OpenAI chat-completion requests: the body's model, and turning message content parts into text and image bytes.

Image URLs a client sends are data, checked before anything reads them: ``data:`` URLs are decoded (size-checked
first), ``file://`` URLs only inside ``Settings.allowed_roots`` (none set: refused), and ``http(s)://`` URLs only
when ``Settings.chat_allow_remote_images`` is on.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ImageError, InputError
from ..images import check_allowed
from ..settings import Settings

DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,",
                      re.IGNORECASE)


class ImageTooLarge(ImageError):
    """An image is over ``Settings.chat_max_image_bytes``."""


class ImageURL(BaseModel):
    url: str
    detail: str | None = None


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ImageURLPart(BaseModel):
    type: Literal["image_url"]
    image_url: ImageURL | str

    @property
    def url(self) -> str:
        return self.image_url if isinstance(self.image_url, str) else self.image_url.url


ContentPart = Annotated[TextPart | ImageURLPart, Field(discriminator="type")]


class ChatMessageIn(BaseModel):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))

    def image_urls(self) -> list[str]:
        if not isinstance(self.content, list):
            return []
        return [p.url for p in self.content if isinstance(p, ImageURLPart)]


class ChatCompletionRequest(BaseModel):
    """The body of ``POST /v1/chat/completions``. Sampling options (temperature, ...) are accepted and ignored:
    lavr's planner decides how it samples."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None


class Conversation(BaseModel):
    """A request reduced to what a chat turn needs."""

    text: str
    images: list[str] = Field(default_factory=list, description="Image URLs of the last user message.")
    earlier_images: list[str] = Field(default_factory=list, description="Image URLs of earlier user messages.")
    history: list[tuple[str, str]] = Field(default_factory=list, description="Earlier (question, answer) pairs.")


def split_conversation(messages: list[ChatMessageIn]) -> Conversation:
    """The last message is the new turn (it must be the user's); earlier user/assistant pairs are history.

    System messages are ignored: lavr's planner has its own system prompt, and a client's instructions are not
    allowed to change what tools may do.
    """
    last = messages[-1]
    if last.role != "user":
        raise InputError(f"the last message must be the user's (it is {last.role!r})")
    history: list[tuple[str, str]] = []
    earlier: list[str] = []
    question: str | None = None
    for msg in messages[:-1]:
        if msg.role == "user":
            earlier.extend(msg.image_urls())
            question = msg.text()
        elif msg.role == "assistant" and question is not None:
            history.append((question, msg.text()))
            question = None
    return Conversation(text=last.text(), images=last.image_urls(), earlier_images=earlier, history=history)


def read_image_url(url: str, settings: Settings) -> bytes:
    """The bytes behind an image URL a client sent, within the size limit and the allowed roots.

    Raises:
        ImageTooLarge: over ``chat_max_image_bytes``.
        ImageError: a malformed data URL, a file URL outside the allowed folders, a refused remote URL.
    """
    limit = settings.chat_max_image_bytes
    if url.startswith("data:"):
        return _data_url(url, limit)
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return _file_url(parsed.netloc, parsed.path, settings, limit)
    if parsed.scheme in ("http", "https"):
        if not settings.chat_allow_remote_images:
            raise ImageError("remote image URLs are refused (set LAVR_CHAT_ALLOW_REMOTE_IMAGES=true to allow them); "
                             "send a data: URL instead")
        return _remote(url, settings, limit)
    raise ImageError(f"unsupported image URL scheme {parsed.scheme or url[:16]!r}: use data:, file: or http(s):")


def _data_url(url: str, limit: int) -> bytes:
    head = DATA_URL.match(url)
    if head is None:
        raise ImageError("malformed data URL (expected data:image/...;base64,...)")
    payload = url[head.end():]
    if head.group("b64"):
        if len(payload) * 3 // 4 > limit:
            raise ImageTooLarge(f"image is larger than {limit:,} bytes")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ImageError("the data URL's base64 payload is invalid") from None
    else:
        data = unquote(payload).encode("latin-1", errors="replace")
    if len(data) > limit:
        raise ImageTooLarge(f"image is larger than {limit:,} bytes")
    if not data:
        raise ImageError("the data URL is empty")
    return data


def _file_url(host: str, raw_path: str, settings: Settings, limit: int) -> bytes:
    if host not in ("", "localhost"):
        raise ImageError(f"file URL on another host ({host}) refused")
    return read_image_path(Path(unquote(raw_path)), settings)


def check_image_path(path: str | Path, settings: Settings, *, uploads: Path | None = None) -> Path:
    """The one rule for an image a client names by a path on the server (a ``file://`` URL, a file of the web
    page): a file uploaded through the page (inside ``uploads``), or a file inside ``Settings.allowed_roots``
    (none set: refused), and no larger than ``chat_max_image_bytes``. Links are resolved before the check.

    Returns:
        The resolved path.

    Raises:
        ImageTooLarge: over ``chat_max_image_bytes``.
        ImageError: outside the uploads and the allowed folders, or not a file.
    """
    given = Path(path)
    resolved = given.resolve()
    uploaded = uploads is not None and resolved.is_relative_to(Path(uploads).resolve())
    if not uploaded:
        if not settings.allowed_roots:
            raise ImageError(f"{given}: not an uploaded image, and file paths are refused unless "
                             "LAVR_ALLOWED_ROOTS names the folders they may come from" if uploads is not None else
                             "file URLs are refused unless LAVR_ALLOWED_ROOTS names the folders they may come from")
        check_allowed(given, settings.allowed_roots)
    if not resolved.exists():
        raise ImageError(f"{given}: no such file")
    if not resolved.is_file():
        raise ImageError(f"{given}: not a file")
    limit = settings.chat_max_image_bytes
    if resolved.stat().st_size > limit:
        raise ImageTooLarge(f"{given}: larger than {limit:,} bytes")
    return resolved


def read_image_path(path: str | Path, settings: Settings, *, uploads: Path | None = None) -> bytes:
    """The bytes of an image named by a path, once ``check_image_path`` allows it (read within the size limit,
    even if the file grows meanwhile)."""
    resolved = check_image_path(path, settings, uploads=uploads)
    limit = settings.chat_max_image_bytes
    try:
        with resolved.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise ImageTooLarge(f"{path}: larger than {limit:,} bytes")
    return data


def _remote(url: str, settings: Settings, limit: int) -> bytes:
    import httpx

    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=settings.openai_timeout_s, follow_redirects=False) as resp:
            if resp.status_code != 200:
                raise ImageError(f"{url}: HTTP {resp.status_code}")
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ImageTooLarge(f"{url}: larger than {limit:,} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ImageError(f"{url}: cannot fetch ({exc})") from None
    return b"".join(chunks)
