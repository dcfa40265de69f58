"""Text bound for a terminal. LLM replies, ids from datasets, thread titles and error messages are data: a control
character in them (ESC starting a CSI or OSC sequence, BEL, C1 controls) would otherwise reach the terminal and
act (retitle the window, clear the screen, move the cursor, hide text). Every line lavr prints goes through
``for_terminal``, which shows such characters visibly instead.
"""

from __future__ import annotations

import re

__all__ = ["for_terminal"]

# C0 controls except tab and newline, DEL, and the C1 controls (U+0080-U+009F: CSI is U+009B, OSC U+009D); the
# Unicode line and paragraph separators and bidirectional overrides, which reorder or break what is shown.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def for_terminal(text: object, *, json: bool = False) -> str:
    """``text`` with every control character except newline and tab shown visibly: ``ESC`` as ``\\x1b``.

    Args:
        text: What is about to be printed (any object: it is turned into a string).
        json: ``text`` is JSON: escape as ``\\u001b`` instead, so that it stays valid JSON that decodes to the
            same strings (control characters can only occur inside JSON strings).
    """
    return _CONTROL.sub(_json_escape if json else _visible, str(text))
