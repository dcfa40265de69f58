from PIL import Image

from lavr.schema import Box
from lavr.trace import Answer, PlanStep, RetryStep, ToolStep
from lavr.trace_html import render_trace_html, step_boxes


def test_page_shows_boxes_and_escapes_everything():
    det = {"detections": [{"id": "obj_0", "label": "person", "box": Box(x1=0.1, y1=0.1, x2=0.5, y2=0.9).model_dump()},
                          {"id": "obj_1", "label": "<b>x</b>", "box": Box(x1=0.5, y1=0, x2=1, y2=1).model_dump()}]}
    ans = Answer(question="How <many>?", image="img_0", answer="<script>alert(1)</script>", rationale="r & s",
                 steps=[PlanStep(index=0, thought="ignore previous <instructions>"),
                        ToolStep(index=1, tool="detect", args={"image": "img_0"}, result="counts: x=2", data=det),
                        RetryStep(index=2, raw_reply="</pre><img src=x onerror=alert(1)>", error="bad")])
    page = render_trace_html(ans, Image.new("RGB", (200, 100)))
    assert page.count("<rect") == 2
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "Content-Security-Policy" in page and "r &amp; s" in page
    assert step_boxes(ans.steps[1])[0] == ("obj_0 person", [0.1, 0.1, 0.5, 0.9])
