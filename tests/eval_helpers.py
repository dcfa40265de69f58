"""Helpers shared by the evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


def call(tool, **args):
    return {"thought": f"use {tool}", "tool_calls": [{"tool": tool, "args": args}]}


def answer(text):
    return {"thought": "done", "answer": text, "rationale": "from the tools"}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def row(rid, image="a.png", question="How many people?", answers=None, **extra):
    return {"id": rid, "image": image, "question": question, "answers": ["4"] * 10 if answers is None else answers,
            **extra}


@pytest.fixture
def ds_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ds"
    (folder / "img").mkdir(parents=True)
    Image.new("RGB", (64, 48), (10, 200, 10)).save(folder / "a.png")
    Image.new("RGB", (40, 40), (200, 10, 10)).save(folder / "img" / "b.png")
    Image.new("RGB", (50, 30), (10, 10, 200)).save(folder / "c.png")
    return folder
