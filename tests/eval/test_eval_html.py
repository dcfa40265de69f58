"""The HTML evaluation report and comparison: the same numbers as the text, the failure gallery (image, evidence
boxes, program, folded trace), images embedded once and downscaled, outputs that never replace an input, the
CLI, and a 300-row page under 5 MB. (The pages in a real browser: test_eval_html_web.py.)"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
from eval_helpers import answer, ds_dir, row, write_jsonl  # noqa: F401 - ds_dir is a fixture
from PIL import Image
from report_pages import SHAPES, html_numbers, text_comparison_numbers, text_report_numbers, with_errors, write_results

from lavr.cli import main
from lavr.errors import InputError
from lavr.eval.compare import compare_results, format_comparison
from lavr.eval.dataset import load_dataset
from lavr.eval.html_report import check_html_path, render_report_html, write_compare_page, write_report_page
from lavr.eval.report import build_report, format_report, is_confidently_wrong, is_wrong
from lavr.eval.results import read_results
from lavr.eval.row_view import ImageEmbedder, evidence_boxes, program_of, trace_of
from lavr.eval.sample_results import sample_results
from lavr.trace import AnswerStep, PlanStep, ToolStep


@pytest.fixture(scope="module")
def shapes():
    return load_dataset(SHAPES)


def cards(page: str) -> dict[str, str]:
    """Gallery card id -> its HTML."""
    found = re.findall(r'<article class="card[^"]*" id="row-([^"]+)"(.*?)</article>', page, re.S)
    return {rid: body for rid, body in found}


# One summary, two renderings ---------------------------------------------------------------------------------

def test_the_page_shows_exactly_the_numbers_of_the_text_report(shapes, tmp_path):
    results = write_results(tmp_path / "r.jsonl", with_errors(sample_results(shapes, n=60, seed=1)))
    report = write_report_page(results, tmp_path / "r.html")
    assert report == build_report(read_results(results))
    text = format_report(report)
    page_numbers = html_numbers((tmp_path / "r.html").read_text(encoding="utf-8"))
    text_numbers = text_report_numbers(text)
    # every number of the text is on the page, the same, and the page tags no number the text lacks
    assert page_numbers == text_numbers
    assert page_numbers["summary"] == text.splitlines()[-1] and page_numbers["errors"] == "2"
    assert {"by_type.count_all.accuracy", "by_type.(none).n", "latency.p99", "tokens.mean_new_prompt",
            "errors.run:ImageError", "tool_usage.query"} <= set(page_numbers)
    assert any(k.startswith("confusion.") for k in page_numbers)


def test_the_comparison_page_shows_exactly_the_numbers_of_the_text(shapes, tmp_path):
    a = write_results(tmp_path / "a.jsonl", sample_results(shapes, n=50, seed=1))
    b = write_results(tmp_path / "b.jsonl", with_errors(sample_results(shapes, n=55, seed=2)))
    cmp = write_compare_page(a, b, tmp_path / "diff.html")
    page = (tmp_path / "diff.html").read_text(encoding="utf-8")
    assert cmp == compare_results(read_results(a), read_results(b), name_a=str(a), name_b=str(b))
    assert html_numbers(page) == text_comparison_numbers(format_comparison(cmp))
    assert cmp.to_wrong and cmp.to_right  # the seeds differ: rows flipped both ways
    flips = re.findall(r'<article class="flip card" id="flip-([^"]+)"(.*?)</article>', page, re.S)
    assert [i for i, _ in flips] == cmp.to_wrong + cmp.to_right
    by_a, by_b = {r["id"]: r for r in read_results(a)}, {r["id"]: r for r in read_results(b)}
    for rid, body in flips:  # both runs' answers and traces, side by side
        traced = [r for r in (by_a.get(rid), by_b.get(rid)) if r and r["trace"]]
        assert body.count('<details class="trace">') == len(traced) >= 1
        assert body.count("<h3>A: ") == 1 and body.count("<h3>B: ") == 1
    assert any('<details class="trace">' in body and "no trace recorded" in body for _, body in flips)  # an error


# The failure gallery -----------------------------------------------------------------------------------------

def test_the_gallery_has_each_wrong_row_with_its_boxes_program_and_folded_trace(shapes, tmp_path):
    records = sample_results(shapes, n=40, seed=3)
    report = build_report(records)
    page = render_report_html(records, report, images=ImageEmbedder(search=[shapes.root]), source="r.jsonl")
    shown = cards(page)
    assert set(shown) == {r["id"] for r in records if is_wrong(r)} and len(shown) < len(records)
    record = next(r for r in records if is_confidently_wrong(r))
    body = shown[record["id"]]
    assert f'data-type="{record["question_type"]}"' in body and 'data-confident="1"' in body
    assert record["question"].replace("'", "&#x27;") in body
    program = record["trace"][1]["program"]
    assert f'<pre class="program">{program}</pre>' in body  # as written
    assert record["trace"][2]["data"]["words"] in body  # and in words
    assert '<details class="trace"><summary>trace · 4 steps</summary>' in body
    # the evidence objects' boxes, drawn where the scene graph put them, on the downscaled image
    steps = trace_of(record)
    boxes, is_evidence = evidence_boxes(steps)
    assert is_evidence and len(boxes) == len(steps[-1].evidence) >= 1
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', body).groups())
    rects = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"', body)
    assert len(rects) == len(boxes)
    x1, y1, x2, _ = boxes[0][1]
    assert rects[0] == (f"{x1 * width:.1f}", f"{y1 * height:.1f}", f"{(x2 - x1) * width:.1f}")
    abstained = next(r for r in records if is_wrong(r) and not is_confidently_wrong(r))
    assert 'data-confident="0"' in shown[abstained["id"]]
    assert '<select id="type-filter">' in page


def test_text_from_the_results_file_is_shown_never_run(tmp_path, shapes):
    [record] = sample_results(shapes, n=1, wrong_share=1.0, abstain_share=0.0)
    record.update(question="<script>alert(1)</script>?", prediction='<img src=x onerror="alert(2)">',
                  question_type="<b>t</b>", image_path=None)
    record["trace"][0]["result"] = "</details><script>alert(3)</script>"
    record["trace"][2]["data"]["words"] = "count the <circles>"  # the query tool's reading of the program
    page = render_report_html([record], build_report([record]), images=ImageEmbedder(search=[]))
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>t</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in page and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
    assert page.count("<script>") == 1  # the page's own filter
    assert '<p class="words">count the &lt;circles&gt;</p>' in page
    assert "image not found: shapes/scene_000.png" in page  # no recorded path, no folder to search


def test_the_program_is_found_wherever_a_row_keeps_it():
    plan = PlanStep(index=1, planner="query", program="count(all(dogs))")
    as_step = plan.model_dump(mode="json", exclude_none=True)
    assert program_of({"trace": [as_step]}).text == "count(all(dogs))"
    assert program_of({"trace": [as_step]}).words is None
    # the query tool's output: the program it ran and its reading in words
    query = {"kind": "tool", "tool": "query", "data": {"program": "count(all(dogs))", "words": "the number of dogs"}}
    assert program_of({"trace": [as_step, query]}).words == "the number of dogs"
    # the words, wherever a row records them: on the row, on the row's answer
    assert program_of({"program": "count(all(dogs))", "program_words": "count the dogs", "trace": [as_step]}) \
        .words == "count the dogs"
    assert program_of({"answer": {"program": "count(dog)", "program_words": "how many dogs"}}).text == "count(dog)"
    # the last program written wins (a rewrite after an error); another language's steps are shown as JSON
    later = {**as_step, "index": 3, "program": [{"id": "s1", "tool": "detect", "args": {}}]}
    assert json.loads(program_of({"trace": [as_step, later]}).text) == later["program"]
    assert program_of({"trace": [{"kind": "answer", "answer": "2"}]}) is None and program_of({}) is None
    assert trace_of({"trace": [as_step, {"kind": "nonsense"}]}) == [plan]  # a step that does not validate is left out


def test_evidence_boxes_from_the_answer_the_query_or_the_rationale():
    scene = ToolStep(index=0, tool="scene_graph", data={"nodes": [
        {"id": "obj_0", "label": "dog", "box": {"x1": 0.1, "y1": 0.1, "x2": 0.3, "y2": 0.4}},
        {"id": "obj_1", "label": "cat", "box": [0.5, 0.5, 0.9, 0.9]}]})
    query = ToolStep(index=1, tool="query", data={"answer": "1", "evidence": ["obj_1"]})
    assert evidence_boxes([scene, AnswerStep(index=2, answer="1", evidence=["obj_0"])]) == \
        ([("obj_0 dog", [0.1, 0.1, 0.3, 0.4])], True)
    assert evidence_boxes([scene, query, AnswerStep(index=2, answer="1")]) == ([("obj_1 cat", [0.5, 0.5, 0.9, 0.9])],
                                                                              True)
    assert evidence_boxes([scene, AnswerStep(index=1, answer="left", rationale="obj_1 is left of obj_0")])[0] == \
        [("obj_1 cat", [0.5, 0.5, 0.9, 0.9]), ("obj_0 dog", [0.1, 0.1, 0.3, 0.4])]
    # the answer names nothing: every object found, flagged as not the evidence (drawn dashed)
    boxes, is_evidence = evidence_boxes([scene, AnswerStep(index=1, answer="2")])
    assert len(boxes) == 2 and not is_evidence
    assert evidence_boxes([AnswerStep(index=0, answer="2", evidence=["obj_9"])]) == ([], False)


def test_images_are_downscaled_and_embedded_once(tmp_path):
    Image.new("RGB", (1600, 1200), (200, 30, 30)).save(tmp_path / "big.png")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.new("RGB", (64, 64)).save(outside / "o.png")
    (tmp_path / "roots").mkdir()
    base = {"question": "q?", "question_type": "t", "prediction": "no", "answers": ["yes"], "score": 0.0,
            "error": None, "trace": []}
    records = [{**base, "id": f"r{i}", "image": "big.png"} for i in range(3)]
    records.append({**base, "id": "gone", "image": "missing.png"})
    embedder = ImageEmbedder(search=[tmp_path])
    page = render_report_html(records, build_report(records), images=embedder)
    rules = re.findall(r'\.(im\d+)\{background-image:url\("data:image/jpeg;base64,([^"]+)"\)\}', page)
    assert [name for name, _ in rules] == ["im0"]  # three rows, one image, embedded once
    assert Image.open(io.BytesIO(base64.b64decode(rules[0][1]))).size == (320, 240)
    assert page.count('class="shot im0"') == 3 and "image not found: missing.png" in page
    # LAVR_ALLOWED_ROOTS holds for the report's reads too
    confined = ImageEmbedder(search=[outside], allowed_roots=[tmp_path / "roots"])
    assert confined.figure({"image": "o.png"}) is None and confined.css() == ""
    assert ImageEmbedder(search=[outside]).figure({"image": "o.png"}).width == 64


# The output is never an input ----------------------------------------------------------------------------------

def test_the_page_never_replaces_an_input(tmp_path, monkeypatch):
    results = write_results(tmp_path / "r.jsonl", [{"id": "a", "score": 1.0, "error": None}])
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("{}\n")
    inputs = [("the results file", results), ("the dataset", dataset)]
    check_html_path(tmp_path / "r.html", inputs)
    for bad in (results, dataset, tmp_path / "sub" / ".." / "r.jsonl"):
        with pytest.raises(InputError, match="the page would replace it"):
            check_html_path(bad, inputs)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"is the results file \("):
        check_html_path(Path("r.jsonl"), inputs)
    os.link(results, tmp_path / "hard.jsonl")  # another name, the same inode
    (tmp_path / "soft.jsonl").symlink_to(dataset)
    for other in ("hard.jsonl", "soft.jsonl"):
        with pytest.raises(InputError, match="the page would replace it"):
            check_html_path(tmp_path / other, inputs)
    with pytest.raises(InputError, match="is a folder"):
        check_html_path(tmp_path, inputs)
    before = results.read_bytes()
    assert main(["report", str(results), "--html", str(tmp_path / "hard.jsonl")]) == 2
    assert main(["compare", str(results), str(dataset), "--html", str(dataset)]) == 2
    assert results.read_bytes() == before and dataset.read_text() == "{}\n"


def test_eval_refuses_an_html_path_that_is_an_input_before_running(ds_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    data = write_jsonl(ds_dir / "d.jsonl", [row("q1")])
    out = tmp_path / "res.jsonl"
    for html_path in (data, out):
        assert main(["eval", str(data), "--out", str(out), "--llm", "scripted", "--html", str(html_path)]) == 2
        assert "the page would replace it" in capsys.readouterr().err
    assert not out.exists() and data.read_text().startswith('{"id": "q1"')


# The commands ------------------------------------------------------------------------------------------------

def test_eval_report_and_compare_write_their_pages(ds_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LAVR_NUM_EXAMPLES", "0")
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps({"replies": [answer("4")], "repeat_last": True}))
    data = write_jsonl(ds_dir / "d.jsonl", [row("q1", question_type="count"),
                                            row("q2", answers=["2"] * 10, question_type="count"),
                                            row("q3", image="img/b.png", answers=["5"] * 10, question_type="other")])
    out, page = tmp_path / "res.jsonl", tmp_path / "pages" / "report.html"
    assert main(["eval", str(data), "--out", str(out), "--llm", f"scripted:{replies}", "--no-progress",
                 "--html", str(page)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    numbers = html_numbers(page.read_text(encoding="utf-8"))
    assert numbers["summary"] == printed[-1] == "accuracy: 0.333 (3 questions)"
    assert numbers["by_type.count.accuracy"] == "0.500"
    # the rows recorded their traces and their images' paths: the page finds the images from anywhere
    records = {r["id"]: r for r in read_results(out)}
    assert records["q3"]["trace"][-1]["kind"] == "answer" and Path(records["q3"]["image_path"]).is_file()
    monkeypatch.chdir(tmp_path)
    again = tmp_path / "again.html"
    assert main(["report", "res.jsonl", "--html", str(again)]) == 0
    assert capsys.readouterr().out.strip() == format_report(build_report(read_results(out)))
    text = again.read_text(encoding="utf-8")
    assert html_numbers(text) == numbers and text.count('class="shot im') == 2  # the two wrong rows' images
    assert main(["report", "res.jsonl", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scored"] == 3
    assert main(["report", "missing.jsonl"]) == 2
    assert main(["compare", "res.jsonl", "res.jsonl", "--html", "diff.html"]) == 0
    assert "flipped: right -> wrong 0, wrong -> right 0" in capsys.readouterr().out
    assert html_numbers((tmp_path / "diff.html").read_text())["delta"] == "+0.000"


def test_a_300_row_page_stays_under_5_mb(shapes, tmp_path):
    """Worst case for size: every row wrong, so every row is a gallery card with an image and its trace."""
    records = sample_results(shapes, n=300, wrong_share=0.9, abstain_share=0.1)
    assert all(is_wrong(r) for r in records)
    results = write_results(tmp_path / "r300.jsonl", records)
    write_report_page(results, tmp_path / "r300.html", image_folders=[shapes.root])
    page = (tmp_path / "r300.html").read_text(encoding="utf-8")
    size = (tmp_path / "r300.html").stat().st_size
    assert size < 5 * 1024 * 1024, f"{size / 1e6:.2f} MB"
    assert len(cards(page)) == 300
    images = {r["image"] for r in records}
    assert len(re.findall(r"\.im\d+\{background-image", page)) == len(images) == 60  # each scene once
