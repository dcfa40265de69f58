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


class ContextFull(BackendError):
    """The prompt no longer fits the LLM's context window: the question took more steps than the model can hold."""


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


class ThreadNotFound(InputError):
    """A chat thread id that does not exist."""


class ThreadStateError(LavrError):
    """A chat thread's stored state cannot be read (a corrupt checkpoint); other threads are unaffected."""


class TfjsModelError(LavrError):
    """A TensorFlow.js graph model (``model.json`` and its weight shards) cannot be read or run."""


class UnsupportedOp(TfjsModelError):
    """A TF.js graph uses an op, or an attribute value of an op, that lavr's executor does not run.

    ``op`` is the TF op name, ``attribute`` the attribute (``None`` when the op itself is unknown), ``node`` the
    graph node that uses it.
    """

    def __init__(self, message: str, *, op: str, node: str, attribute: str | None = None):
        super().__init__(message)
        self.op = op
        self.node = node
        self.attribute = attribute
