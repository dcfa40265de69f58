"""``python -m lavr ...``: the same as the ``lavr`` command."""

from .cli import entry

entry()
