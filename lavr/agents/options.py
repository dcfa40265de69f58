"""The command-line options of every command that builds an agent (``ask``, ``eval``, ``chat``, ``serve``): one
name, one help text and one check each, so the commands cannot drift apart."""

from __future__ import annotations

import argparse

from ..planners import PLANNER_MODES

PIPELINE_PREFIX = "pipeline:"
MODE_METAVAR = "{" + ",".join(m for m in PLANNER_MODES if m != "pipeline") + ",pipeline:FILE}"
MODE_HELP = ("planning mode: auto (the default: query with the embedded LLM, whose backend declares it, else "
             "react), query (one constrained call writes a query program, executed exactly), react (step by "
             "step), naive (every expert's output in one prompt, one call) or pipeline:FILE (a scripted pipeline)")
LLM_HELP = "the LLM: local (the default: the embedded GGUF), openai:MODEL, a .gguf path, or scripted:FILE.json"
MAX_STEPS_HELP = "planning turns before a forced answer (default: LAVR_MAX_STEPS)"
SEED_HELP = "the LLM's sampling seed (default: LAVR_LLM_SEED)"


def planner_mode(text: str) -> str:
    """``--mode``'s value: one of the modes, or ``pipeline:FILE``; argparse reports anything else with the list."""
    named = text in PLANNER_MODES and text != "pipeline"  # a bare 'pipeline' names no file
    if named or (text.startswith(PIPELINE_PREFIX) and text[len(PIPELINE_PREFIX):]):
        return text
    raise argparse.ArgumentTypeError(f"unknown mode {text!r}; use one of {MODE_METAVAR[1:-1].replace(',', ', ')}")


def add_agent_options(parser: argparse.ArgumentParser, *, seed_help: str = SEED_HELP,
                      seed_default: int | None = None) -> None:
    """``--llm``, ``--mode``, ``--max-steps`` and ``--seed``, the same for every command that builds an agent."""
    parser.add_argument("--llm", help=LLM_HELP)
    parser.add_argument("--mode", default="auto", type=planner_mode, metavar=MODE_METAVAR, help=MODE_HELP)
    parser.add_argument("--max-steps", type=int, help=MAX_STEPS_HELP)
    parser.add_argument("--seed", type=int, default=seed_default, help=seed_help)
