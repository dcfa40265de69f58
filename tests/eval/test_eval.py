"""The evaluation harness: dataset loading and the runner (resume, errors, batching, precomputed outputs,
concurrency, seeds). Report, compare and CLI tests are in test_eval_report_cli.py."""

from __future__ import annotations

import json
import pickle
import random
import re
import threading

import pytest
from eval_helpers import answer, call, ds_dir, row, write_jsonl  # noqa: F401 - ds_dir is a fixture
from PIL import Image
from tools_for_tests import BarrierTool, CountInput, CountOutput, CountTool

from lavr import Agent
from lavr.backends import ScriptedBackend
from lavr.errors import BackendError, InputError
from lavr.eval import groups as runner_mod
from lavr.eval.dataset import load_dataset
from lavr.eval.groups import seed_everything
from lavr.eval.results import read_results
from lavr.eval.runner import group_by_image, run_eval
from lavr.eval.spec import AgentSpec, agent_mode
from lavr.tools.base import RunContext, Tool

SUMMARY_RE = re.compile(r"^accuracy: \d\.\d{3} \(\d+ questions\)$")


def policy(messages):
    """A scripted planner that is safe under concurrency: call count, then answer from its observation."""
    last = messages[-1].content
    if "explode" in messages[1].content and "Observation" not in last:
        raise RuntimeError("backend exploded")
    return answer("4") if "Observation (count)" in last else call("count", label="person")


def make_factory(settings, *, tools=None, cache=False):
    backend = ScriptedBackend([policy], repeat_last=True)
    s = settings.model_copy(update={"num_examples": 0, "tool_timeout_s": 10.0})

    def factory():
        return Agent(backend, settings=s, tools=tools or [CountTool(s)], cache=cache)

    return factory, backend


# Dataset -----------------------------------------------------------------------------------------------------

def test_load_jsonl_good_rows(ds_dir):
    path = write_jsonl(ds_dir / "d.jsonl", [
        row("q1", answer_type="number"),
        "",
        row(7, image="img/b.png", question=" Pick one ", answers=[1], choices=["red", "green"],
            question_type="colour"),
        row("q3", answers="yes"),
    ])
    ds = load_dataset(path)
    assert len(ds) == 3 and not ds.invalid
    q1, q2, q3 = ds.rows
    assert q1.image == ds_dir / "a.png" and q1.question_type == "number" and q1.answers == ["4"] * 10
    assert q2.id == "7" and q2.line == 3 and q2.question == "Pick one" and q2.answers == [1]
    assert q2.choices == ["red", "green"] and q2.question_type == "colour" and q2.image == ds_dir / "img" / "b.png"
    assert q3.answers == ["yes"]


def test_bad_rows_become_error_rows_and_loading_goes_on(ds_dir, tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "outside.png")
    path = write_jsonl(ds_dir / "d.jsonl", [
        row("ok1"),
        "{not json",
        "[1, 2]",
        row("q-noimg", image=None),
        row("q-missing", image="nope.png"),
        row("q-empty", answers=[]),
        row("q-empty2", answers=["", " "]),
        row("ok1", question="again"),
        row("q-noq", question="  "),
        {"image": "a.png", "question": "no id", "answers": ["x"]},
        row("q-escape", image="../outside.png"),
        row("q-abs", image=str(tmp_path / "outside.png")),
        row("q-pre", precomputed={"detect": [1]}),
        row("q-noanswers", answers=None) | {"answers": None},
        row("ok2", image="c.png"),
    ])
    ds = load_dataset(path, allowed_roots=[ds_dir])
    by_id = {r.id: r for r in ds.rows}
    assert [r.id for r in ds.valid] == ["ok1", "ok2"]
    expected = {
        "@line2": "dataset:malformed_line", "@line3": "dataset:malformed_line",
        "@line4:q-noimg": "dataset:missing_image", "@line5:q-missing": "dataset:missing_image",
        "@line6:q-empty": "dataset:empty_answers", "@line7:q-empty2": "dataset:empty_answers",
        "@line8:ok1": "dataset:duplicate_id", "@line9:q-noq": "dataset:missing_question",
        "@line10": "dataset:missing_id", "@line11:q-escape": "dataset:image_outside_roots",
        "@line12:q-abs": "dataset:image_outside_roots", "@line13:q-pre": "dataset:bad_field",
        "@line14:q-noanswers": "dataset:missing_answers",
    }
    assert {r.id: r.error_kind for r in ds.invalid} == expected
    assert "first on line 1" in by_id["@line8:ok1"].error and "nope.png" in by_id["@line5:q-missing"].error
    assert by_id["@line8:ok1"].question == "again"


def test_allowed_roots_and_symlinks(ds_dir, tmp_path):
    other = tmp_path / "shared"
    other.mkdir()
    Image.new("RGB", (8, 8)).save(other / "x.png")
    (ds_dir / "link.png").symlink_to(other / "x.png")
    path = write_jsonl(ds_dir / "d.jsonl", [row("abs", image=str(other / "x.png")), row("link", image="link.png")])
    # Roots set: confined to them, the dataset's own folder included (a link out of it is followed first).
    assert [r.error_kind for r in load_dataset(path, allowed_roots=[ds_dir]).rows] == \
        ["dataset:image_outside_roots"] * 2
    ds = load_dataset(path, allowed_roots=[other])
    assert not ds.invalid and ds.allowed_roots == [other.resolve()]
    # No roots: the dataset is the user's own input and may name any readable file (absolute paths included).
    assert not load_dataset(path).invalid


def test_load_csv(ds_dir):
    text = (
        "id,image,question,answers,choices,answer_type,precomputed\n"
        'c1,a.png,How many people?,4|4|four,,number,\n'
        'c2,img/b.png,Which colour?,"[""red"", ""dark red""]",red|green,colour,"{""count"": {""count"": 2}}"\n'
        "c3,a.png,Too many cells,yes,,,,extra\n"
        "c4,a.png,,yes,,,\n"
        ",,,,,,\n"
        "c5,a.png,Broken list,[oops,,,\n"
        "c6,a.png,Fine,no,,,\n"
    )
    (ds_dir / "d.csv").write_text(text, encoding="utf-8")
    ds = load_dataset(ds_dir / "d.csv")
    by_id = {r.id: r for r in ds.rows}
    assert by_id["c1"].answers == ["4", "4", "four"] and by_id["c1"].question_type == "number"
    assert by_id["c1"].choices is None and by_id["c1"].precomputed == {}
    assert by_id["c2"].answers == ["red", "dark red"] and by_id["c2"].choices == ["red", "green"]
    assert by_id["c2"].precomputed == {"count": {"count": 2}}
    assert {r.id: r.error_kind for r in ds.invalid} == {
        "@line4": "dataset:malformed_line", "@line5:c4": "dataset:missing_question", "@line7:c5": "dataset:bad_field"}
    assert [r.id for r in load_dataset(ds_dir / "d.csv", limit=2).rows] == ["c1", "c2"]


def test_dataset_file_errors(tmp_path):
    with pytest.raises(InputError, match="no such dataset"):
        load_dataset(tmp_path / "missing.jsonl")
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(InputError, match="unknown dataset format"):
        load_dataset(tmp_path / "d.txt")


# Runner ------------------------------------------------------------------------------------------------------

def test_run_eval_writes_one_scored_record_per_row(settings, ds_dir, tmp_path):
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1", question_type="count"),
                                            row("q2", image="img/b.png", answers=["3"] * 10, question_type="count")])
    factory, backend = make_factory(settings)
    out = tmp_path / "out" / "results.jsonl"
    summary = run_eval(path, agent_factory=factory, out=out, progress=False)
    assert summary.line() == "accuracy: 0.500 (2 questions)" and SUMMARY_RE.match(summary.line())
    assert summary.ran == 2 and summary.skipped == 0 and summary.errors == 0 and summary.accuracy == 0.5
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    q1 = records["q1"]
    assert q1["prediction"] == "4" and q1["raw_answer"] == "4" and q1["score"] == 1.0
    assert q1["tools"] == ["count"] and q1["steps"] == 3 and q1["mode"] == "react" and q1["llm"] == "scripted"
    assert q1["usage"]["llm_calls"] == 2 and q1["usage"]["prompt_tokens"] > 0 and q1["metric"] == "vqa"
    assert q1["image"] == "a.png" and q1["error"] is None and q1["seconds"] > 0 and q1["seed"] == 0
    assert records["q2"]["score"] == 0.0 and records["q2"]["image"] == "img/b.png"
    assert len(backend.requests) == 4
    assert summary.report.by_type["count"].n == 2 and summary.report.tool_usage == {"count": 2}


def test_the_scorer_scores_exactly_what_the_agent_answered(settings, ds_dir, tmp_path):
    # No reformatting on the scoring side: the agent formats its answer (a sentence becomes "4", what `ask` prints
    # too), the scorer scores exactly that; a count given to a yes/no question stays a count (it used to be turned
    # into "yes" before scoring).
    path = write_jsonl(ds_dir / "d.jsonl", [row("s1"), row("yn", question="Are there people?", answers=["yes"] * 10)])
    backend = ScriptedBackend([lambda m: answer("There are 4 people.") if "How many" in m[1].content
                               else answer("4")], repeat_last=True)
    s = settings.model_copy(update={"num_examples": 0})
    summary = run_eval(path, agent_factory=lambda: Agent(backend, settings=s, tools=[CountTool(s)], cache=False),
                       out=tmp_path / "r.jsonl", progress=False)
    records = {r["id"]: r for r in read_results(tmp_path / "r.jsonl")}
    assert records["s1"]["prediction"] == "4" and records["s1"]["score"] == 1.0
    assert records["yn"]["prediction"] == "4" and records["yn"]["score"] == 0.0
    assert summary.accuracy == 0.5


def test_rows_are_grouped_by_image_and_the_image_is_decoded_once(settings, ds_dir, tmp_path, monkeypatch):
    rows = [row("a1"), row("b1", image="img/b.png"), row("a2"), row("a3")]
    ds = load_dataset(write_jsonl(ds_dir / "d.jsonl", rows))
    assert [[r.id for r in g] for g in group_by_image(ds.rows)] == [["a1", "a2", "a3"], ["b1"]]
    loads = []
    real_add = runner_mod.ImageStore.add
    monkeypatch.setattr(runner_mod.ImageStore, "add", lambda self, src, **kw: loads.append(src) or real_add(self, src,
                                                                                                               **kw))
    factory, _ = make_factory(settings)
    out = tmp_path / "r.jsonl"
    run_eval(ds, agent_factory=factory, out=out, progress=False)
    assert len(loads) == 2
    assert [r["id"] for r in read_results(out)] == ["a1", "a2", "a3", "b1"]


def test_resume_skips_finished_rows_and_ignores_a_torn_line(settings, ds_dir, tmp_path):
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1"), row("q2"), row("q3", image="c.png"), row("q4")])
    factory, backend = make_factory(settings)
    out = tmp_path / "r.jsonl"
    run_eval(path, agent_factory=factory, out=out, progress=False)
    assert len(backend.requests) == 8
    # simulate a kill: only q1 and q3 made it, then half a line
    lines = {json.loads(x)["id"]: x for x in out.read_text().splitlines()}
    out.write_text(lines["q1"] + "\n" + lines["q3"] + "\n" + lines["q2"][:40])
    factory2, backend2 = make_factory(settings)
    summary = run_eval(path, agent_factory=factory2, out=out, progress=False)
    assert summary.skipped == 2 and summary.ran == 2 and len(backend2.requests) == 4  # 2 rows x 2 LLM calls
    text_lines = out.read_text().splitlines()
    assert all(json.loads(x) for x in text_lines) and sorted(json.loads(x)["id"] for x in text_lines) == \
        ["q1", "q2", "q3", "q4"]
    assert summary.line() == "accuracy: 1.000 (4 questions)"
    # everything done: nothing runs, the agent is not even built
    summary = run_eval(path, agent_factory=lambda: pytest.fail("agent built"), out=out, progress=False)
    assert summary.ran == 0 and summary.skipped == 4


def test_error_rows_rerun_only_with_retry_errors_and_no_resume_starts_over(settings, ds_dir, tmp_path):
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1"), row("q2", question="explode please")])
    factory, backend = make_factory(settings)
    out = tmp_path / "r.jsonl"
    summary = run_eval(path, agent_factory=factory, out=out, progress=False)
    assert summary.errors == 1 and summary.scored == 1
    failed = [r for r in read_results(out) if r["error"]]
    assert failed[0]["id"] == "q2" and failed[0]["error_kind"] == "run:RuntimeError"
    assert "backend exploded" in failed[0]["error"]
    n = len(backend.requests)
    run_eval(path, agent_factory=factory, out=out, progress=False)
    assert len(backend.requests) == n  # error row kept, not retried
    summary = run_eval(path, agent_factory=factory, out=out, retry_errors=True, progress=False)
    assert summary.ran == 1 and len(backend.requests) == n + 1
    assert len(out.read_text().splitlines()) == 2  # the retried error record was replaced, not duplicated
    summary = run_eval(path, agent_factory=factory, out=out, resume=False, progress=False)
    assert summary.ran == 2 and len(out.read_text().splitlines()) == 2


def test_per_row_errors_do_not_stop_the_run(settings, ds_dir, tmp_path):
    (ds_dir / "broken.png").write_bytes(b"not an image at all")
    path = write_jsonl(ds_dir / "d.jsonl", [
        row("bad-image-1", image="broken.png"), row("bad-image-2", image="broken.png"),
        row("no-image", image="gone.png"), "{torn", row("mc", choices=None), row("ok"),
    ])
    factory, _ = make_factory(settings)
    out = tmp_path / "r.jsonl"
    summary = run_eval(path, agent_factory=factory, out=out, progress=False)
    kinds = {r["id"]: r["error_kind"] for r in read_results(out)}
    assert kinds == {"bad-image-1": "run:ImageError", "bad-image-2": "run:ImageError",
                     "@line3:no-image": "dataset:missing_image", "@line4": "dataset:malformed_line",
                     "mc": None, "ok": None}
    assert summary.errors == 4 and summary.scored == 2
    reasons = {e.kind: e.count for e in summary.report.error_reasons}
    assert reasons == {"run:ImageError": 2, "dataset:missing_image": 1, "dataset:malformed_line": 1}
    out2 = tmp_path / "mc.jsonl"
    run_eval(path, agent_factory=factory, out=out2, metric="multiple_choice", progress=False)
    assert {r["id"]: r["error_kind"] for r in read_results(out2)}["mc"] == "dataset:missing_choices"
    with pytest.raises(InputError, match="unknown metric"):
        run_eval(path, agent_factory=factory, out=out2, metric="bleu")


def test_multiple_choice_metric(settings, ds_dir, tmp_path):
    path = write_jsonl(ds_dir / "d.jsonl", [row("m1", choices=["3", "4", "5"], answers=[1]),
                                            row("m2", choices=["3", "4", "5"], answers=["C"])])
    factory, _ = make_factory(settings)
    summary = run_eval(path, agent_factory=factory, out=tmp_path / "r.jsonl", metric="multiple_choice",
                       progress=False)
    assert {r["id"]: r["score"] for r in read_results(tmp_path / "r.jsonl")} == {"m1": 1.0, "m2": 0.0}
    assert summary.report.metrics == ["multiple_choice"]


class MemoCountTool(Tool[CountInput, CountOutput]):
    """Count objects with a cached expert that must never run (its output is precomputed)."""

    name = "memo_count"
    input_model = CountInput
    output_model = CountOutput

    def identity(self) -> str:
        return "memo-v1"

    def run(self, args: CountInput, ctx: RunContext) -> CountOutput:
        stored = ctx.images.get("img_0")

        def compute() -> CountOutput:
            raise AssertionError("the expert ran although its output was precomputed")

        value, _ = ctx.memo(tool=self.name, image=stored, params={"label": args.label}, identity=self.identity(),
                            model=CountOutput, compute=compute)
        return value


@pytest.mark.parametrize("cache", [True, False])
def test_precomputed_outputs_seed_the_cache(settings, ds_dir, tmp_path, cache):
    pre = {"memo_count": {"value": {"label": "person", "count": 7}, "params": {"label": "person"}}}
    path = write_jsonl(ds_dir / "d.jsonl", [row("p1", precomputed=pre, answers=["7"])])
    s = settings.model_copy(update={"num_examples": 0})
    backend = ScriptedBackend([call("memo_count", label="person"), answer("7")])
    agent = Agent(backend, settings=s, tools=[MemoCountTool(s)], cache=cache)
    summary = run_eval(path, agent_factory=lambda: agent, out=tmp_path / "r.jsonl", progress=False)
    assert summary.line() == "accuracy: 1.000 (1 questions)"
    observation = backend.requests[1]["messages"][-1].content
    assert "counts: person=7" in observation
    bad = write_jsonl(ds_dir / "bad.jsonl", [row("p2", precomputed={"nope": {"x": 1}})])
    run_eval(bad, agent_factory=lambda: agent, out=tmp_path / "bad.jsonl", progress=False)
    [record] = read_results(tmp_path / "bad.jsonl")
    assert record["error_kind"] == "run:InputError" and "unknown tool 'nope'" in record["error"]


def test_concurrency_runs_image_groups_in_parallel(settings, ds_dir, tmp_path):
    s = settings.model_copy(update={"num_examples": 0})

    def meet_policy(messages):
        last = messages[-1].content
        return answer("met") if "Observation (meet)" in last else call("meet", who=messages[1].content[-12:])

    backend = ScriptedBackend([meet_policy], repeat_last=True)
    barrier_tool = BarrierTool(s, in_run=True)
    agent = Agent(backend, settings=s, tools=[barrier_tool], cache=False)
    path = write_jsonl(ds_dir / "d.jsonl", [row("a", answers=["met"]), row("b", image="c.png", answers=["met"])])
    summary = run_eval(path, agent_factory=lambda: agent, out=tmp_path / "r.jsonl", concurrency=2, progress=False)
    assert summary.line() == "accuracy: 1.000 (2 questions)"  # sequential runs would break the barrier
    assert threading.active_count() < 50


def test_seeds_and_agent_spec(settings, tmp_path):
    seed_everything(5)
    first = random.random()
    seed_everything(5)
    assert random.random() == first
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [answer("4")], "repeat_last": True}))
    spec = AgentSpec(llm=f"scripted:{replies}", settings={"data_dir": str(tmp_path / "d"), "num_examples": 0},
                     tools=("tools_for_tests:CountTool",), cache=False)
    spec2 = pickle.loads(pickle.dumps(spec.with_settings(llm_seed=9)))
    agent = spec2()
    assert isinstance(agent, Agent) and agent.settings.llm_seed == 9 and agent.registry.names() == ["count"]
    assert agent.cache is None and agent_mode(agent) == "react" and spec.settings.get("llm_seed") is None
    with pytest.raises(InputError, match="cannot be imported"):
        AgentSpec(llm=f"scripted:{replies}", tools=("tools_for_tests:Nope",))()
    replies.write_text("{oops")
    with pytest.raises(BackendError, match="not valid JSON"):
        spec()


def test_run_eval_passes_the_seed_to_an_agent_spec(settings, ds_dir, tmp_path, monkeypatch):
    built = []
    monkeypatch.setattr(AgentSpec, "__call__", lambda self: built.append(self) or make_factory(settings)[0]())
    path = write_jsonl(ds_dir / "d.jsonl", [row("q1")])
    run_eval(path, agent_factory=AgentSpec(llm="local"), out=tmp_path / "r.jsonl", seed=42, progress=False)
    assert built[0].settings["llm_seed"] == 42
