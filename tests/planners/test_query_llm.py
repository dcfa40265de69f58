"""Query mode with the real embedded LLM: programs under the scene's grammar, checked against the question,
answered exactly (slow)."""

from __future__ import annotations

import pytest
from PIL import Image
from tools_for_tests import FixedDetector

from lavr.agents import Agent
from lavr.schema import Box
from lavr.tools import QueryTool, SceneGraphTool
from lavr.tools.detect import RawDetection

pytestmark = pytest.mark.llm

SHAPES = [("circle", [0.05, 0.10, 0.20, 0.25], {"color": "red"}),
          ("circle", [0.40, 0.40, 0.55, 0.55], {"color": "blue"}),
          ("square", [0.70, 0.10, 0.90, 0.30], {"color": "red"}),
          ("square", [0.10, 0.70, 0.30, 0.90], {"color": "green"}),
          ("square", [0.75, 0.70, 0.95, 0.90], {"color": "yellow"}),
          ("triangle", [0.45, 0.78, 0.55, 0.88], {"color": "yellow"}),
          ("frame", [0.30, 0.30, 0.65, 0.65], {"color": "gray"})]
PEOPLE = [("person", [0.05, 0.6, 0.4, 0.9], {"posture": "fallen"}),
          ("person", [0.6, 0.2, 0.7, 0.9], {"posture": "standing"})]

CASES = [  # question, expected answer; on the shapes unless a person scene is named
    ("How many red objects are there?", "2"),
    ("Count the squares.", "3"),
    ("Is there a green triangle?", "no"),
    ("What color is the rightmost shape?", "yellow"),
    ("Are there more squares than circles?", "yes"),
    ("Is the red circle to the left of the green square?", "yes"),
    ("What is inside the frame?", "circle"),
    ("How many yellow things are there?", "2"),
    ("What shape is the smallest object?", "triangle"),
    ("How many circles are left of the triangle?", "2"),
    ("Is there a square below the red circle?", "yes"),
    ("people: How many people have fallen?", "1"),
]


def agent_for(settings, objects, labels):
    detections = [RawDetection(label=lbl, confidence=1.0, box=Box.from_list(box), attributes=attrs)
                  for lbl, box, attrs in objects]
    detector = FixedDetector(settings, detections, labels=labels)
    scene = SceneGraphTool(settings, detector=detector)
    return Agent("local", planner="query", settings=settings,
                 tools=[detector, scene, QueryTool(settings, scene_graph=scene)], cache=False)


def test_the_embedded_llm_writes_programs_that_answer_right(tmp_path):
    from lavr.settings import Settings

    settings = Settings().model_copy(update={"num_examples": 0})  # LAVR_DATA_DIR: the assembled GGUF is reused
    shapes = agent_for(settings, SHAPES, ["circle", "frame", "square", "star", "triangle"])
    people = agent_for(settings, PEOPLE, ["person"])
    image = Image.new("RGB", (160, 120), (255, 255, 255))
    right, report = 0, []
    for question, expected in CASES:
        agent = shapes
        if question.startswith("people: "):
            question, agent = question.removeprefix("people: "), people
        ans = agent.ask(image, question)
        right += ans.answer == expected
        program = next((s.args.get("program") for s in ans.steps if getattr(s, "tool", None) == "query"), None)
        report.append(f"{question} -> {ans.answer} (want {expected}) {program}")
        # never a confident answer to another question: right, or "cannot tell"
        assert ans.answer == expected or ans.answer.startswith("cannot tell"), "\n".join(report)
    assert right >= len(CASES) - 1, "\n".join(report)
