"""The photos set answered by the programs its questions mean, on the real experts' scene graphs: what the experts
allow when the question is translated right. It separates the experts' mistakes from the translation's.

    python examples/eval/photos_programs.py [--json out.json]

Each question of ``make_photos_set.py`` has the program it means in lavr's query language (``None`` where the
language cannot say it: whether the photo is black and white, a flower's colour with no object for the flower).
The experts run on each photo through lavr's own tools (no cache); the programs run on the scene graphs exactly as
query mode runs its programs; the answers are scored with VQA soft accuracy against the rows' answers. Not an
evaluation of the LLM. The scene's vocabulary is widened with ``graph.graph["known_values"]`` (every value the
people experts can give), as the query scene should read it, so that "Is anyone sitting?" on a photo where
nobody sits is "no" rather than an unknown word.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_photos_set import IMAGES, QUESTIONS  # noqa: E402

PROGRAMS: dict[str, str | None] = {
    "bus-buses": "count(all(bus))",
    "bus-any-bus": "exists(all(bus))",
    "bus-color": "color(the(bus))",
    "bus-car": "exists(all(car))",
    "bus-truck": "exists(all(truck))",
    "bus-more-people": "more(count(all(people)), count(all(buses)))",
    "bus-standing": "count(all(people, standing))",
    "bus-sitting": "exists(all(someone, sitting))",
    "bus-motorcycle": "exists(all(motorcycle))",
    "bus-people-front": "exists(all(people, in_front_of(the(bus))))",
    "zidane-ties": "count(all(ties))",
    "zidane-any-tie": "exists(all(tie))",
    "zidane-ball": "exists(all(ball))",
    "zidane-smiling": "exists(all(someone, smiling))",
    "zidane-tie-color": "color(leftmost(all(tie)))",
    "zidane-sitting": "exists(all(someone, sitting))",
    "zidane-chair": "exists(all(chair))",
    "astronaut-smiling": "is(the(person), smiling)",
    "astronaut-any-smiling": "exists(all(someone, smiling))",
    "astronaut-child": "is(the(person), child)",
    "astronaut-dog": "exists(all(dog))",
    "astronaut-suit-color": "color(the(person))",
    "grace-tie": "exists(all(tie))",
    "grace-ties": "count(all(ties))",
    "grace-old": "age(the(person))",
    "grace-child": "exists(all(child))",
    "grace-uniform-color": "color(the(person))",
    "camera-standing": "is(the(man), standing)",
    "camera-lying": "is(the(man), lying)",
    "camera-left": "is(the(man), left)",
    "camera-car": "exists(all(car))",
    "camera-bw": None,
    "coffee-cup": "exists(all(cup))",
    "coffee-cups": "count(all(cups))",
    "coffee-spoon": "exists(all(spoon))",
    "coffee-spoon-right": "is(the(spoon), right_of(the(cup)))",
    "coffee-cup-color": "color(the(cup))",
    "coffee-fork": "exists(all(fork))",
    "coffee-bottle": "exists(all(bottle))",
    "chelsea-cat": "exists(all(cat))",
    "chelsea-dog": "exists(all(dog))",
    "chelsea-cats": "count(all(cats))",
    "chelsea-animal": "label(the(object))",
    "moto-any": "exists(all(motorcycle))",
    "moto-count": "count(all(motorcycles))",
    "moto-color": "color(the(motorcycle))",
    "moto-riding": "exists(all(someone, near(the(motorcycle))))",
    "moto-bench": "exists(all(bench))",
    "moto-bench-behind": "is(the(bench), behind(the(motorcycle)))",
    "moto-bicycle": "exists(all(bicycle))",
    "moto-car": "exists(all(car))",
    "moto-bench-left": "is(the(bench), left)",
    "motor-count": "count(all(motorcycles))",
    "motor-person": "exists(all(person))",
    "motor-bench-left-of": "is(the(bench), left_of(the(motorcycle)))",
    "rocket-airplane": "exists(all(airplane))",
    "rocket-car": "exists(all(car))",
    "china-boat": "exists(all(boat))",
    "china-bird": "exists(all(bird))",
    "flower-vase": "exists(all(vase))",
    "flower-color": None,
    "cheetah-dog": "exists(all(dog))",
    "cheetah-person": "exists(all(person))",
    "lion-person": "exists(all(people))",
    "lion-horse": "exists(all(horse))",
    "tower-person": "exists(all(person))",
    "tower-bird": "exists(all(bird))",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args(argv)

    from lavr.errors import LavrError
    from lavr.eval.metrics import vqa_soft_accuracy
    from lavr.samples import sample_path
    from lavr.settings import Settings
    from lavr.tools import RunContext, default_tools
    from lavr.tools.query import Scene, check_program, execute

    missing = sorted({q[0] for q in QUESTIONS} - set(PROGRAMS))
    if missing:
        raise SystemExit(f"no meant program for: {', '.join(missing)}")
    settings = Settings()
    scene_graph = {t.name: t for t in default_tools(settings)}["scene_graph"]
    scenes = {}
    for name, sample in IMAGES.items():
        ctx = RunContext(settings)
        image = ctx.images.add(sample_path(sample)).id
        graph = scene_graph.graph(image, ctx)
        scene = Scene.from_graphs({image: graph})
        for key, values in graph.graph.get("known_values", {}).items():
            have = scene.vocabulary.attributes.setdefault(key, [])
            scene.vocabulary.attributes[key] = sorted({*have, *values})
        scenes[name] = scene
    rows = []
    for rid, image, question, qtype, answers in QUESTIONS:
        program = PROGRAMS[rid]
        if program is None:
            answer = "(not expressible)"
        else:
            try:
                answer = execute(check_program(program, scenes[image]), scenes[image]).answer
            except LavrError as exc:  # an unknown word or a type error: the experts give nothing to say it with
                answer = f"cannot tell: {exc}"
        rows.append({"id": rid, "question": question, "type": qtype, "program": program, "answer": answer,
                     "score": vqa_soft_accuracy(answer, answers), "truth": max(set(answers), key=answers.count)})
    for r in rows:
        print(f"{r['id']:<22} {r['score']:.2f}  {r['answer'][:40]:<40} (truth {r['truth']})  {r['program']}")
    expressible = [r for r in rows if r["program"] is not None]
    print(f"accuracy: {sum(r['score'] for r in rows) / len(rows):.3f} ({len(rows)} questions); on the "
          f"{len(expressible)} the language says: {sum(r['score'] for r in expressible) / len(expressible):.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
