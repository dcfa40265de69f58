import pytest

from lavr.planners.parsing import InvalidReply, parse_decision


def test_plain_tool_call_json():
    d = parse_decision('{"thought": "find people", "tool_calls": [{"tool": "detect", "args": {"image": "img_0"}}]}')
    assert d.thought == "find people"
    assert [(c.tool, c.args) for c in d.tool_calls] == [("detect", {"image": "img_0"})]
    assert not d.is_final


def test_answer_json_with_fence_and_prose():
    text = 'Sure! Here it is:\n```json\n{"thought": "t", "answer": "4", "rationale": "counts: person=4"}\n```\nBye'
    d = parse_decision(text)
    assert d.is_final and d.answer == "4" and d.rationale == "counts: person=4"


@pytest.mark.parametrize("reply,tool,args", [
    ('{"tool": "detect", "args": {"classes": ["person"]}}', "detect", {"classes": ["person"]}),
    ('{"tool_calls": [{"name": "scene_graph", "arguments": "{\\"label\\": \\"person\\"}"}]}', "scene_graph",
     {"label": "person"}),
    ('{"action": "detect", "action_input": {"image": "img_0"}}', "detect", {"image": "img_0"}),
    ('{"tool_calls": {"tool": "detect", "args": null}}', "detect", {}),
])
def test_neighbouring_shapes_are_accepted(reply, tool, args):
    d = parse_decision(reply)
    assert d.tool_calls[0].tool == tool and d.tool_calls[0].args == args


def test_numeric_and_boolean_answers_become_strings():
    assert parse_decision('{"answer": 3}').answer == "3"
    assert parse_decision('{"answer": true}').answer == "true"
    assert parse_decision('{"action": "final_answer", "action_input": "two"}').answer == "two"


@pytest.mark.parametrize("reply,needle", [
    ("", "empty"),
    ("I think there are four people.", "not valid JSON"),
    ('{"thought": "hmm"}', "neither tool_calls nor an answer"),
    ('{"tool_calls": [{"args": {}}]}', "no tool name"),
    ('{"tool_calls": "detect"}', "must be a list"),
    ('{"tool_calls": [{"tool": "detect", "args": "not json"}]}', "not JSON"),
    ('[1, 2]', "not valid JSON"),
])
def test_malformed_replies_say_why(reply, needle):
    with pytest.raises(InvalidReply, match=needle):
        parse_decision(reply)
