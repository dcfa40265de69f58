"""Error types. ``LavrError`` subclasses carry one clear line meant for a person."""

from __future__ import annotations


class LavrError(Exception):
    """Base class: ``str(err)`` is a one-line explanation for the user."""


class InputError(LavrError):
    """The user's input (image, question, option) cannot be used."""


class ImageError(InputError):
    """An image is missing, unreadable, not an image or outside the allowed folders."""


class BackendError(LavrError):
    """The LLM backend cannot be built or reached."""


class WeightsMissing(LavrError):
    """An expert's weights are not available here; the message says how to fix it."""


class ToolError(LavrError):
    """A tool could not do what was asked; the message is fed back to the LLM."""


class PipelineError(InputError):
    """A scripted pipeline is malformed (bad file, ids, tools, arguments or templates); the message lists why."""


class SettingsError(InputError, ValueError):
    """A setting (a ``LAVR_*`` variable, a ``Settings`` argument or a CLI option) has a value that is not allowed.

    Also a ``ValueError``, as pydantic's own validation errors are.
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None):
        super().__init__(message)
        self.field = field
        self.value = value

    @classmethod
    def from_validation(cls, exc: object, model: type, *, given: set[str]) -> SettingsError:
        """One line from a pydantic ``ValidationError`` of ``Settings``: the first bad field, its value and what
        is allowed. A field given as an argument is named as such, else by its ``LAVR_*`` variable."""
        from .settings import ENV_PREFIX, describe_allowed

        errors = exc.errors()  # type: ignore[attr-defined]
        first = errors[0]
        name = str(first["loc"][0]) if first.get("loc") else "?"
        value = first.get("input")
        where = name if name in given else f"{ENV_PREFIX}{name.upper()}"
        more = f" (and {len(errors) - 1} more invalid setting(s))" if len(errors) > 1 else ""
        reason = str(first.get("msg", "invalid value"))
        if reason.startswith("Value error, "):
            reason = reason[len("Value error, "):]
        return cls(f"{where}={value!r} is not allowed ({reason}); allowed: {describe_allowed(model, name)}{more}",
                   field=name, value=value)
