"""Reading the numbers back out of the text report and the HTML pages, to hold one against the other.

The page tags every number it shows with ``data-n="<what>"``; the text report is parsed line by line into the
same keys. A test then checks that both say the same, and that the page shows no tagged number the text lacks.
"""

from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

SHAPES = Path(__file__).resolve().parents[1] / "examples" / "eval" / "shapes.jsonl"

QUOTED = r"'(?:[^'\\]|\\.)*'" + "|" + r'"(?:[^"\\]|\\.)*"'  # a Python repr of a string, either quote
PAIR = re.compile(rf"(?P<e>{QUOTED}) -> (?P<g>{QUOTED}) x(?P<n>\d+)")


def write_results(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def with_errors(records: list[dict]) -> list[dict]:
    """Two rows turned into failures of two kinds, and one row without a question type."""
    records = [dict(r) for r in records]
    records[1].update(error="image vanished", error_kind="run:ImageError", score=None, prediction=None, trace=[])
    records[2].update(error="LLM down", error_kind="run:RuntimeError", score=None, prediction=None, trace=[])
    records[3]["question_type"] = None
    return records


class _Numbers(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self._open: list[tuple[str, str]] = []  # (tag, key) of the tagged elements being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        key = dict(attrs).get("data-n")
        if key is not None:
            self._open.append((tag, key))
            self.found[key] = ""

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.found[self._open[-1][1]] += data


def html_numbers(page: str) -> dict[str, str]:
    """``data-n`` key -> the text of its element."""
    parser = _Numbers()
    parser.feed(page)
    return {k: v.strip() for k, v in parser.found.items()}


def text_report_numbers(text: str) -> dict[str, str]:
    """The text report (``format_report``) as ``data-n`` keys -> the numbers as printed."""
    lines = text.splitlines()
    out = {"summary": lines[-1]}
    m = re.match(r"rows: (\d+) \(scored (\d+), errors (\d+)\)", lines[0])
    assert m, lines[0]
    out.update(rows=m[1], scored=m[2], errors=m[3])
    section = ""
    for line in lines[1:]:
        if not line.startswith("  "):
            section = line
        if m := re.fullmatch(r'wrong: (\d+), confidently wrong \(not "cannot tell"\): (\d+)', line):
            out.update(wrong=m[1], confidently_wrong=m[2])
        elif section.startswith("accuracy by question type") and line.startswith("  "):
            m = re.fullmatch(r"  (\S+)\s+(\S+) \((\d+)\)\s+(\S+)", line)
            assert m, line
            out.update({f"by_type.{m[1]}.accuracy": m[2], f"by_type.{m[1]}.n": m[3],
                        f"by_type.{m[1]}.confidently_wrong": m[4]})
        elif section.startswith("most frequent wrong answers") and line.startswith("  "):
            qtype, _, rest = line.strip().partition(": ")
            for p in PAIR.finditer(rest):
                out[f"confusion.{qtype}.{ast.literal_eval(p['e'])}.{ast.literal_eval(p['g'])}"] = p["n"]
        elif line.startswith("latency (s): "):
            for key, value in re.findall(r"(p\d+) (\S+)", line):
                out[f"latency.{key}"] = value
        elif m := re.fullmatch(r"tokens per question: prompt (\S+) \(new (\S+)\), completion (\S+), LLM calls (\S+)",
                               line):
            out.update({"tokens.mean_prompt": m[1], "tokens.mean_new_prompt": m[2], "tokens.mean_completion": m[3],
                        "tokens.mean_llm_calls": m[4]})
        elif line.startswith(("tool calls: ", "finished: ")):
            prefix = "tool_usage" if line.startswith("tool") else "finished"
            for key, value in re.findall(r"(\S+?)=(\d+)", line.partition(": ")[2]):
                out[f"{prefix}.{key}"] = value
        elif m := re.match(r"retries \(malformed LLM replies\): (\d+) in", line):
            out["retries.total"] = m[1]
        elif section == "error reasons:" and line.startswith("  "):
            m = re.match(r"  (\S+): (\d+) \(", line)
            assert m, line
            out[f"errors.{m[1]}"] = m[2]
    return out


def text_comparison_numbers(text: str) -> dict[str, str]:
    """The text comparison (``format_comparison``) as ``data-n`` keys -> the numbers as printed."""
    out: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if not line.startswith("  "):
            section = line
        if m := re.match(r"([AB]): .*?: accuracy (\S+) \((\d+) questions\)$", line):
            out[f"{m[1].lower()}.summary"] = f"accuracy: {m[2]} ({m[3]} questions)"
        elif m := re.fullmatch(r"on (\d+) questions scored in both: A (\S+), B (\S+), delta (\S+)", line):
            out.update(common_scored=m[1], common_a=m[2], common_b=m[3], delta=m[4])
        elif m := re.fullmatch(r"changed \((\d+)\):", line):
            out["changed"] = m[1]
        elif line == "changed: none":
            out["changed"] = "0"
        elif m := re.fullmatch(r"flipped: right -> wrong (\d+), wrong -> right (\d+)", line):
            out.update(to_wrong=m[1], to_right=m[2])
        elif section.startswith("accuracy by question type") and line.startswith("  "):
            m = re.fullmatch(r"  (\S+)\s+(\S+) \(\d+\)\s+(\S+) \(\d+\)\s+(\S+)", line)
            assert m, line
            out.update({f"by_type.{m[1]}.a": m[2], f"by_type.{m[1]}.b": m[3], f"by_type.{m[1]}.delta": m[4]})
        elif line.startswith("per question (A, B, delta): "):
            for part in line.partition(": ")[2].split("; "):
                name, a, b, delta = re.fullmatch(r"(.+) (\S+), (\S+), (\S+)", part).groups()
                out.update({f"cost.{name}.a": a, f"cost.{name}.b": b, f"cost.{name}.delta": delta})
    return out
