"""The synthetic shapes set: deterministic, large and varied enough, and every answer consistent with its scene.

Answers are recomputed here independently of the generator, from each row's own ``precomputed`` detections and
its question text (parsed with the families' wording), and the rendered pixels are checked against the boxes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from lavr.eval.synthetic import generate, main, write_dataset
from lavr.eval.synthetic_questions import EXPRESSIBLE, FALLBACK
from lavr.eval.synthetic_scenes import BACKGROUNDS, COLORS, MIN_DY

REPO = Path(__file__).resolve().parents[2]
YES_NO = {"exist", "compare_count", "same_attr", "verify_relation", "logic"}
SHAPE_WORDS = {"circle": "circle", "circles": "circle", "square": "square", "squares": "square",
               "triangle": "triangle", "triangles": "triangle"}
GENERIC = {"object", "objects", "shape", "shapes"}
ADJ = {**{c: "color" for c in COLORS}, "small": "size", "large": "size", "metal": "material", "rubber": "material"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    _, made = generate(0)
    return [r.model_dump() for r in made]


def objects(row: dict) -> list[dict]:
    out = []
    for d in row["precomputed"]["detect"]["detections"]:
        x1, y1, x2, y2 = d["box"]
        out.append({"shape": d["label"], **d["attributes"], "cx": (x1 + x2) / 2, "cy": (y1 + y2) / 2,
                    "area": (x2 - x1) * (y2 - y1)})
    return out


def parse_desc(text: str) -> dict[str, str]:
    """``large red circles`` -> ``{"size": "large", "color": "red", "shape": "circle"}``."""
    filt: dict[str, str] = {}
    for word in text.split():
        if word in SHAPE_WORDS:
            filt["shape"] = SHAPE_WORDS[word]
        elif word in ADJ:
            filt[ADJ[word]] = word
        else:
            assert word in GENERIC, f"unexpected word {word!r} in {text!r}"
    return filt


def matching(objs: list[dict], filt: dict[str, str]) -> list[dict]:
    return [o for o in objs if all(o[k] == v for k, v in filt.items())]


def the(objs: list[dict], text: str) -> dict:
    hits = matching(objs, parse_desc(text))
    assert len(hits) == 1, f"{text!r} names {len(hits)} objects"
    return hits[0]


def asked_attribute(question: str) -> str:
    """Which attribute a query template asks for (the templates of ``QUERY``)."""
    heads = {"color": r"What color is|What is the color of|Which color does|is what color\?",
             "shape": r"What shape is|What is the shape of|Which shape does|has what shape\?",
             "size": r"What size is|What is the size of|small or large\?",
             "material": r"What material is|made of|What is the material of"}
    [attr] = [a for a, pattern in heads.items() if re.search(pattern, question)]
    return attr


def recompute(row: dict) -> list[str] | None:
    """The answer from the row's detections and question, or None for families not re-derived here."""
    q, objs, fam = row["question"], objects(row), row["question_type"]
    if fam == "count_all":
        return [str(len(objs))]
    if fam == "count_attr":
        m = re.fullmatch(r"(?:How many (.+?) (?:are there|are in the image|can you see)\?|Count the (.+)\."
                         r"|What is the number of (.+)\?)", q)
        return [str(len(matching(objs, parse_desc(next(g for g in m.groups() if g)))))]
    if fam == "count_not":
        m = re.search(r"not (\w+)[.?]$", q)
        word = m.group(1)
        key, value = ("shape", SHAPE_WORDS[word]) if word in SHAPE_WORDS else (ADJ[word], word)
        return [str(sum(o[key] != value for o in objs))]
    if fam == "exist":
        m = re.fullmatch(r"(?:Is there an? (.+)|Are there any (.+)|Does the image contain an? (.+)"
                         r"|Can you see an? (.+))\?", q)
        return ["yes" if matching(objs, parse_desc(next(g for g in m.groups() if g))) else "no"]
    if fam == "verify_relation":
        m = re.fullmatch(r"(?:Is the|Is it true that the|Would you say the) (.+?) (?:is )?(to the left of|left of|"
                         r"on the left side of|to the right of|right of|on the right side of|above|higher than|over|"
                         r"below|lower than|beneath) the (.+)\?", q)
        a, rel, b = the(objs, m.group(1)), m.group(2), the(objs, m.group(3))
        if "left" in rel or "right" in rel:
            truth = (a["cx"] < b["cx"]) == ("left" in rel)
        else:
            assert abs(a["cy"] - b["cy"]) * 120 >= MIN_DY - 1e-6
            truth = (a["cy"] < b["cy"]) == (rel in ("above", "higher than", "over"))
        return ["yes" if truth else "no"]
    if fam == "compare_count":
        m = re.fullmatch(r"Are there (more|fewer|less) (.+) than (.+)\?|Is the number of (.+) (greater|smaller) "
                         r"than the number of (.+)\?|Do the (.+) outnumber the (.+)\?|Are there the same number of "
                         r"(.+) and (.+)\?|Is the number of (.+) equal to the number of (.+)\?"
                         r"|Are there as many (.+) as (.+)\?", q)
        g = m.groups()
        if g[0]:
            op, a, b = ("more" if g[0] == "more" else "fewer"), g[1], g[2]
        elif g[3]:
            op, a, b = ("more" if g[4] == "greater" else "fewer"), g[3], g[5]
        elif g[6]:
            op, a, b = "more", g[6], g[7]
        else:
            a, b = next((g[i], g[i + 1]) for i in (8, 10, 12) if g[i])
            op = "same"
        na, nb = len(matching(objs, parse_desc(a))), len(matching(objs, parse_desc(b)))
        return ["yes" if {"more": na > nb, "fewer": na < nb, "same": na == nb}[op] else "no"]
    if fam == "extreme":
        m = re.search(r"(leftmost|rightmost|topmost|bottommost|largest|smallest|biggest|tiniest|highest|lowest"
                      r"|furthest to the left|furthest to the right|on the far left|on the far right"
                      r"|closest to the top|closest to the bottom)", q)
        kind = {"biggest": "largest", "tiniest": "smallest", "highest": "topmost", "lowest": "bottommost",
                "furthest to the left": "leftmost", "on the far left": "leftmost", "on the far right": "rightmost",
                "furthest to the right": "rightmost", "closest to the top": "topmost",
                "closest to the bottom": "bottommost"}.get(m.group(1), m.group(1))
        noun = re.search(r"\b(circle|square|triangle)\b", q)
        attr = asked_attribute(q)
        pool = [o for o in objs if noun is None or o["shape"] == noun.group(1)]
        key = {"leftmost": lambda o: o["cx"], "rightmost": lambda o: -o["cx"], "topmost": lambda o: o["cy"],
               "bottommost": lambda o: -o["cy"], "largest": lambda o: -o["area"], "smallest": lambda o: o["area"]}
        ranked = sorted(pool, key=key[kind])
        assert key[kind](ranked[1]) - key[kind](ranked[0]) > 0.01  # a clear-cut winner
        return [ranked[0][attr]]
    return None


def test_deterministic_from_seed(tmp_path):
    a, b, c = (write_dataset(tmp_path / name / "shapes.jsonl", seed=seed, scenes=8)
               for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    assert a == b and a != c

    def digest(folder: Path) -> dict[str, str]:
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
    assert len(list((tmp_path / "a" / "shapes").glob("scene_*.png"))) == 8


def test_size_families_templates_and_balance(rows):
    assert len(rows) >= 300 and len({r["image"] for r in rows}) >= 60
    assert len({r["id"] for r in rows}) == len(rows)
    families = Counter(r["question_type"] for r in rows)
    assert set(families) == set(EXPRESSIBLE) | set(FALLBACK) and len(EXPRESSIBLE) >= 10 and len(FALLBACK) >= 2
    assert all(families[f] >= 20 for f in EXPRESSIBLE) and all(families[f] >= 8 for f in FALLBACK)
    vocabulary = set(ADJ) | set(SHAPE_WORDS) | GENERIC
    templates = defaultdict(set)
    for r in rows:
        words = ["X" if w.strip("?.,").lower() in vocabulary else w for w in r["question"].split()]
        templates[r["question_type"]].add(" ".join(words[:3]))
    assert all(len(t) >= 3 for t in templates.values()), {f: len(t) for f, t in templates.items()}
    for family in YES_NO:
        answers = Counter(r["answers"][0] for r in rows if r["question_type"] == family)
        assert set(answers) == {"yes", "no"} and 0.25 <= answers["yes"] / sum(answers.values()) <= 0.75, family
    # every scene's questions are of different families
    per_scene = defaultdict(list)
    for r in rows:
        per_scene[r["image"]].append(r["question_type"])
    assert all(len(f) == len(set(f)) for f in per_scene.values())


def test_answers_recomputed_from_the_detections(rows):
    checked = Counter()
    for row in rows:
        expected = recompute(row)
        if expected is not None:
            assert row["answers"] == expected, row
            checked[row["question_type"]] += 1
    assert set(checked) == {"count_all", "count_attr", "count_not", "exist", "verify_relation", "compare_count",
                            "extreme"}


def test_geometry_and_pixels_match_the_detections(tmp_path):
    written = write_dataset(tmp_path / "shapes.jsonl", seed=3, scenes=12, per_scene=1)
    for row in written:
        img = Image.open(tmp_path / row.image).convert("RGB")
        dets = row.precomputed["detect"]["detections"]
        background = {v: k for k, v in BACKGROUNDS.items()}[img.getpixel((0, 0))]
        assert row.question_type != "background_color" or row.answers[0] == background
        centres = []
        for d in dets:
            x1, y1, x2, y2 = d["box"]
            cx, cy = (x1 + x2) / 2 * img.width, (y1 + y2) / 2 * img.height
            assert img.getpixel((int(cx), int(cy))) == COLORS[d["attributes"]["color"]]
            centres.append(cx)
        centres.sort()
        assert all(b - a >= 8 for a, b in zip(centres, centres[1:]))  # left/right is never borderline


def test_scene_graph_relations_agree_with_the_ground_truth(rows):
    from lavr.schema import Box
    from lavr.tools.scene_graph import pair_relations

    for row in rows[::5]:
        objs = objects(row)
        boxes = [Box.from_list(d["box"]) for d in row["precomputed"]["detect"]["detections"]]
        for i, a in enumerate(objs):
            for j, b in enumerate(objs):
                if i == j:
                    continue
                rels = {r for r, _ in pair_relations(boxes[i], boxes[j])}
                assert ("left_of" in rels) == (a["cx"] < b["cx"]) and ("right_of" in rels) == (a["cx"] > b["cx"])
                if abs(a["cy"] - b["cy"]) * 120 >= MIN_DY:
                    assert ("above" in rels) == (a["cy"] < b["cy"])


def test_committed_set_is_the_generator_output(rows):
    committed = REPO / "examples" / "eval" / "shapes.jsonl"
    lines = committed.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_cli(tmp_path, capsys):
    assert main(["--seed", "2", "--scenes", "3", "--per-scene", "4", "--out", str(tmp_path / "s.jsonl")]) == 0
    assert "wrote 12 questions about 3 scenes" in capsys.readouterr().out
    assert main(["--scenes", "0", "--out", str(tmp_path / "t.jsonl")]) == 2
