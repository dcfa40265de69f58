"""A small recogniser for the GBNF that lavr's query grammars use (literals, rule names, ``[0-9]`` classes,
groups, ``*``): whether a grammar derives a text, so tests can say what a grammar allows without a model."""

from __future__ import annotations

import functools
import json
import re

_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[A-Za-z_][A-Za-z0-9_-]*|::=|[|()*])')


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            if text[i:].strip():
                raise ValueError(f"cannot read grammar at {text[i:i + 30]!r}")
            break
        out.append(m.group(1))
        i = m.end()
    return out


def _parse_alt(toks: list[str], i: int) -> tuple[tuple, int]:
    seqs = []
    seq, i = _parse_seq(toks, i)
    seqs.append(seq)
    while i < len(toks) and toks[i] == "|":
        seq, i = _parse_seq(toks, i + 1)
        seqs.append(seq)
    return ("alt", tuple(seqs)), i


def _parse_seq(toks: list[str], i: int) -> tuple[tuple, int]:
    items = []
    while i < len(toks) and toks[i] not in ("|", ")"):
        t = toks[i]
        if t == "(":
            item, i = _parse_alt(toks, i + 1)
            assert toks[i] == ")"
            i += 1
        elif t.startswith('"'):
            item, i = ("lit", json.loads(t)), i + 1
        elif t.startswith("["):
            item, i = ("cls", re.compile(t)), i + 1
        else:
            item, i = ("ref", t), i + 1
        if i < len(toks) and toks[i] == "*":
            item, i = ("star", item), i + 1
        items.append(item)
    return ("seq", tuple(items)), i


def rules(gbnf: str) -> dict[str, tuple]:
    out = {}
    for line in gbnf.splitlines():
        if "::=" not in line:
            continue
        name, rhs = line.split("::=", 1)
        node, i = _parse_alt(_tokens(rhs), 0)
        out[name.strip()] = node
    return out


def derives(gbnf: str, text: str, start: str = "root") -> bool:
    """Whether ``gbnf`` derives exactly ``text`` from ``start``."""
    grammar = rules(gbnf)

    @functools.cache
    def rule_ends(name: str, pos: int) -> frozenset[int]:
        return frozenset(ends(grammar[name], pos))

    def ends(node: tuple, pos: int) -> set[int]:
        kind = node[0]
        if kind == "lit":
            return {pos + len(node[1])} if text.startswith(node[1], pos) else set()
        if kind == "cls":
            return {pos + 1} if pos < len(text) and node[1].fullmatch(text[pos]) else set()
        if kind == "ref":
            return set(rule_ends(node[1], pos))
        if kind == "alt":
            return set().union(*(ends(s, pos) for s in node[1]))
        if kind == "seq":
            here = {pos}
            for item in node[1]:
                here = set().union(*(ends(item, p) for p in here)) if here else set()
            return here
        if kind == "star":
            seen, frontier = {pos}, {pos}
            while frontier:
                frontier = set().union(*(ends(node[1], p) for p in frontier)) - seen
                seen |= frontier
            return seen
        raise ValueError(kind)

    return len(text) in rule_ends(start, 0)
