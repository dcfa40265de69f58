"""Chat in the default (query) mode, scripted LLM: follow-ups see the previous question ("them"), a thread's
images are all the planner's ("the first image", "which image has more people")."""

from __future__ import annotations

from PIL import Image
from tools_for_tests import FixedDetector

from lavr.agents import Agent
from lavr.backends import ScriptedBackend
from lavr.chat import ChatSession
from lavr.chat.service import ChatThreads
from lavr.schema import Box
from lavr.tools import QueryTool, SceneGraphTool
from lavr.tools.detect import RawDetection, RawDetections


def person(x1: float, x2: float, posture: str = "standing") -> RawDetection:
    return RawDetection(label="person", confidence=0.9, box=Box(x1=x1, y1=0.2, x2=x2, y2=0.9),
                        attributes={"posture": posture})


# The red photo: four people, three of them left of the middle; the blue photo: two people.
RED = [person(0.05, 0.15), person(0.20, 0.30), person(0.35, 0.45), person(0.80, 0.95, "fallen")]
BLUE = [person(0.10, 0.30), person(0.60, 0.80)]


class ByColourDetector(FixedDetector):
    """Finds RED's people on a reddish photo and BLUE's on a bluish one."""

    def predict(self, pil_images, *, conf):
        out = []
        for pil in pil_images:
            r, _, b = pil.convert("RGB").getpixel((10, 10))
            out.append(RawDetections(detections=RED if r > b else BLUE, labels=["person"]))
        return out


def chat_for(settings, replies):
    s = settings.model_copy(update={"num_examples": 0})
    detector = ByColourDetector(s, [], labels=["person"])
    scene = SceneGraphTool(s, detector=detector)
    backend = ScriptedBackend(replies)
    agent = Agent(backend, planner="query", settings=s, tools=[detector, scene, QueryTool(s, scene_graph=scene)],
                  cache=False)
    return ChatSession(ChatThreads(agent, settings=s)), backend


def test_follow_ups_in_the_default_mode_answer_the_question_asked(settings):
    session, backend = chat_for(settings, [
        "count(all(people))", "count(all(person, left_half))", "is(rightmost(all(person)), standing)",
        "which_more(all(people))", "count(all(people, img_0))"])
    red, blue = Image.new("RGB", (64, 48), (200, 20, 20)), Image.new("RGB", (64, 48), (20, 20, 200))
    assert session.send("How many people are in this photo?", images=[red]).answer == "4"
    # "them": the previous question is in the prompt, and the program may name what it named
    left = session.send("And how many of them are on the left half?")
    assert left.answer == "3"  # by box centre, not the left third (2)
    # the earlier exchange as it was (the question, the program that ran), then the new question: the prompt
    # continues the previous one, so llama.cpp reads only the new question
    first_prompt = backend.requests[0]["messages"]
    follow_up = backend.requests[1]["messages"]
    assert [(m.role, m.content) for m in follow_up[len(first_prompt):]] == [
        ("assistant", "P: count(all(people))"), ("user", "Q: And how many of them are on the left half?")]
    assert follow_up[:len(first_prompt)] == first_prompt
    third = session.send("Is the one on the far right standing?")
    assert third.answer == "no"  # the rightmost has fallen
    assert [(m.role, m.content) for m in backend.requests[2]["messages"][len(follow_up):]] == [
        ("assistant", "P: count(all(person, left_half))"),
        ("user", "Q: Is the one on the far right standing?\nTerms: far right = rightmost")]
    # a second photo: the planner sees both, by name and order, and compares them
    assert session.send("Which image has more people?", images=[blue]).answer == "first"
    assert backend.requests[3]["messages"][-1].content.startswith(
        "Images: img_0 (first, the other one), img_1 (second, this one)")
    assert session.send("How many people are in the first image?").answer == "4"
