"""The written form of a query program: nested calls of words and numbers, ``count(all(tiny, matte, thing))``.

A program is a tree: a ``Call`` has an op name and arguments; a leaf is a ``Word`` (a label, a value, a part of
the picture, an image id, as the question says it: "tiny", "matte", "ball") or a ``Number``. ``parse`` reads the
text (tolerantly: spaces, quotes and a leading ``P:`` are skipped) and ``Node.text()`` writes it back in the one
form the worked examples use. Types and meanings are the ops' business (``ops.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import ProgramSyntaxError

MAX_NODES = 80  # a program longer than this is a model gone astray


@dataclass(frozen=True)
class Word:
    text: str

    def text_form(self) -> str:
        return self.text


@dataclass(frozen=True)
class Number:
    value: int

    def text_form(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Call:
    op: str
    args: tuple[Node, ...]

    def text_form(self) -> str:
        return f"{self.op}({', '.join(a.text_form() for a in self.args)})"


Node = Call | Word | Number


def text(node: Node) -> str:
    """The program's one written form: ``op(arg, arg)`` with a comma and a space between arguments."""
    return node.text_form()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)


_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_\-]*(?:\s+[A-Za-z][A-Za-z0-9_\-]*)*)|(?P<number>\d+)"
                    r"|(?P<punct>[(),]))")


def parse(source: str) -> Node:
    """Read a program's text into its tree.

    Raises:
        ProgramSyntaxError: not a program (unbalanced parentheses, a stray symbol, nothing at all, too long).
    """
    src = source.strip()
    src = re.sub(r"^(?:P\s*:)", "", src).strip().strip("`").strip()
    src = src.replace('"', "").replace("'", "")
    if not src:
        raise ProgramSyntaxError("the program is empty")
    pos, tokens = 0, []
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ProgramSyntaxError(f"unexpected {src[pos:pos + 12]!r} in the program")
        kind = m.lastgroup
        value = m.group(kind) if kind else ""
        tokens.append((kind, " ".join(value.split()) if kind == "name" else value))
        pos = m.end()
    parser = _Parser(tokens)
    node = parser.node()
    if parser.i != len(tokens):
        raise ProgramSyntaxError(f"unexpected {tokens[parser.i][1]!r} after the end of the program")
    if sum(1 for _ in walk(node)) > MAX_NODES:
        raise ProgramSyntaxError(f"the program is longer than {MAX_NODES} parts")
    return node


class _Parser:
    def __init__(self, tokens: list[tuple[str | None, str]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str | None, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, "")

    def node(self) -> Node:
        kind, value = self.peek()
        if kind == "number":
            self.i += 1
            return Number(int(value))
        if kind != "name":
            raise ProgramSyntaxError(f"expected a word or an op, got {value or 'the end'!r}")
        self.i += 1
        if self.peek() != ("punct", "("):
            return Word(value.lower())
        self.i += 1
        args: list[Node] = []
        if self.peek() == ("punct", ")"):
            self.i += 1
            return Call(value.lower(), ())
        while True:
            args.append(self.node())
            kind, value2 = self.peek()
            self.i += 1
            if (kind, value2) == ("punct", ")"):
                return Call(value.lower(), tuple(args))
            if (kind, value2) != ("punct", ","):
                raise ProgramSyntaxError(f"expected ',' or ')' in {value}(...), got {value2 or 'the end'!r}")
