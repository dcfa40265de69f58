"""The ops the executor runs (see ``registry`` for how an op is built). Importing this package registers them all."""

from __future__ import annotations

from . import array, elementwise, nn  # noqa: F401  (importing them fills OPS)
from .registry import OPS, Builder, Constants, Kernel, const_input, register

__all__ = ["OPS", "Builder", "Constants", "Kernel", "const_input", "register"]
