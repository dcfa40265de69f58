"""The server's log: uvicorn's usual format (``INFO:     127.0.0.1:5123 - "POST /v1/chat/completions HTTP/1.1" 200``)
for its own lines, the access log and lavr's, every line through ``for_terminal`` (a request path or a client's
message may hold control characters), and no colours (the log is often a file)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from uvicorn.logging import AccessFormatter, DefaultFormatter

from ..settings import Settings
from ..terminal import for_terminal


class SafeFormatter(DefaultFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


class SafeAccessFormatter(AccessFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's ``LOGGING_CONFIG`` with lavr's loggers on the same handler (lavr's warnings and uvicorn's lines
    on stderr, the access log on stdout, as uvicorn does)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": f"{__name__}.SafeFormatter", "fmt": "%(levelprefix)s %(message)s", "use_colors": False},
            "access": {"()": f"{__name__}.SafeAccessFormatter", "use_colors": False,
                       "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
            "lavr": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


def store_description(settings: Settings) -> str:
    """Where threads are kept, without a password: ``SQLite PATH`` or ``PostgreSQL HOST:PORT/DB``."""
    url = settings.chat_postgres_url
    if not url:
        return f"SQLite {settings.data_dir / 'chat' / 'threads.sqlite'}"
    if "://" not in url:  # a key=value connection string: name no field but the database
        fields = dict(part.split("=", 1) for part in url.split() if "=" in part)
        return f"PostgreSQL {fields.get('host', 'localhost')}/{fields.get('dbname', '')}"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL {parts.hostname or 'localhost'}{port}{parts.path}"


def startup_line(*, host: str, port: int, service: Any, settings: Settings, web: bool, workers: int = 1) -> str:
    """The one line ``lavr serve`` says when it starts: address, model, mode, auth, page, threads."""
    agent = getattr(service, "agent", None)
    mode = getattr(agent, "mode", "?")
    llm = getattr(getattr(agent, "backend", None), "name", "?")
    shown = f"[{host}]" if ":" in host else host
    auth = "auth on (Bearer LAVR_SERVER_TOKEN)" if settings.server_token else "auth off (no LAVR_SERVER_TOKEN)"
    page = f"web page at http://{shown}:{port}/" if web else "no web page"
    processes = f"; {workers} worker processes" if workers > 1 else ""
    return (f"lavr serve: listening on http://{shown}:{port}/v1 (model {settings.server_model_name!r}: {mode} mode, "
            f"LLM {llm}); {auth}; {page}; threads in {store_description(settings)}{processes}")
