#!/usr/bin/env python
"""Re-run every in-context example's tool calls with the real experts and rewrite their observations.

Usage: python scripts/refresh_examples.py [--check]
With --check nothing is written; the exit status says whether the stored observations are current.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

import yaml

from lavr.agents.executor import ToolExecutor
from lavr.prompts.examples import Example
from lavr.settings import Settings
from lavr.tools import RunContext, ToolRegistry, default_tools


def run_example(example: Example, executor: ToolExecutor, settings: Settings) -> list[list[str]]:
    path = example.image.resolve()
    if path is None:
        raise SystemExit(f"{example.id}: image {example.image.package}/{example.image.path} is not installed")
    ctx = RunContext(settings)
    ctx.images.add(path)
    observations = []
    for turn in example.turns:
        steps = executor.run(turn.tool_calls, ctx, first_index=0)
        observations.append([s.result if s.error is None else f"error: {s.error}" for s in steps])
    return observations


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks, short lists inline: the file stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper: yaml.SafeDumper, value: list) -> yaml.Node:
    flow = all(isinstance(v, (int, float, str)) and "\n" not in str(v) for v in value) and len(value) <= 4
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


def _dict(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    flow = all(isinstance(v, (int, float, str)) and "\n" not in str(v) for v in value.values()) and len(value) <= 5
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)
_Dumper.add_representer(dict, _dict)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    source = Path(str(resources.files("lavr.prompts").joinpath("examples.yaml")))
    raw = yaml.safe_load(source.read_text())
    # A fresh data folder (a yolo11n.pt in the user's must not change the examples), reading the human-models
    # weights from wherever they are installed (the COCO detectors, pose and face models).
    from lavr.perception.install import models_dir

    settings = Settings(data_dir=Path(tempfile.mkdtemp()), human_models_dir=models_dir(Settings()))
    executor = ToolExecutor(ToolRegistry(default_tools(settings)))
    stale = 0
    for item in raw:
        example = Example.model_validate(item)
        fresh = run_example(example, executor, settings)
        for turn, observations in zip(item["turns"], fresh):
            if turn.get("observations") != observations:
                stale += 1
                print(f"{example.id}: observations changed", file=sys.stderr)
                turn["observations"] = observations
    if args.check:
        return 1 if stale else 0
    source.write_text(yaml.dump(raw, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110))
    print(f"{len(raw)} examples, {stale} turns refreshed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
