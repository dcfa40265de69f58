"""Fuse the candidates of several detectors into one set of objects: weighted box fusion with one vote per model,
then one label per object.

Each detector makes its own mistakes (nanodet calls the bus a train, centernet calls a cat a dog and a half-seen
person a dog, the person detector scores a flower as a person); where they agree the evidence adds up, where they
disagree on what one object is, the label with more evidence wins.

1. Candidates under ``floor`` are dropped.
2. Per label, candidates are clustered greedily by score (weighted box fusion, Solovyev et al. 2019): a candidate
   joins the cluster whose fused box it overlaps most, if by at least ``iou``; the fused box is the average of
   the members' boxes weighted by score x model weight.
3. A cluster's score is one vote per model: ``sum(weight_m x best score of m in it) / sum(weight_m)`` over the
   models that know the label (the person detector does not vote on buses). A box two detectors agree on scores
   higher than either alone; one found by a single detector scores less than its own confidence.
4. One label per object: clusters of different labels overlapping by at least ``conflict_iou`` are one object
   seen two ways; the higher score keeps it, the other's label is kept in ``alternatives``. People take no part:
   the ``people`` tool cross-checks person boxes with faces, and the scene graph then gives a counted person's box
   to the person (a half-seen person the COCO models call a dog loses to the person detector and a face).

Pure functions over boxes; the detectors and the chosen parameters live elsewhere (``detect``, and
``scripts/choose_thresholds.py`` chooses the parameters on the labelled photo set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, Field

from ..schema import Box


class Candidate(BaseModel):
    """One detector's raw detection."""

    model: str
    label: str
    score: float = Field(ge=0.0, le=1.0)
    box: Box
    attributes: dict[str, str] = Field(default_factory=dict)


class FusionParams(BaseModel):
    """How candidates are fused (chosen on data by ``scripts/choose_thresholds.py``)."""

    weights: dict[str, float] = Field(description="Model name -> its vote's weight (0: ignored).")
    iou: float = Field(0.55, gt=0.0, le=1.0, description="Same-label boxes overlapping this much are one object.")
    conflict_iou: float = Field(0.7, gt=0.0, le=1.0,
                                description="Boxes of different labels overlapping this much are one object.")
    floor: float = Field(0.05, ge=0.0, le=1.0, description="Candidates under this score are not fused.")
    independent: tuple[str, ...] = Field(("person",), description="Labels that take no part in step 4.")


class Fused(BaseModel):
    """One fused object."""

    label: str
    score: float
    box: Box
    votes: dict[str, float] = Field(description="Model -> its best score for this object under this label.")
    alternatives: dict[str, float] = Field(default_factory=dict,
                                           description="Labels other clusters gave this object, with their scores.")
    attributes: dict[str, str] = Field(default_factory=dict)


class _Cluster:
    def __init__(self, first: Candidate, weight: float):
        self.members: list[tuple[Candidate, float]] = []
        self.box = first.box
        self.add(first, weight)

    def add(self, cand: Candidate, weight: float) -> None:
        self.members.append((cand, weight))
        total = sum(c.score * w for c, w in self.members)
        coords = [sum(getattr(c.box, k) * c.score * w for c, w in self.members) / total
                  for k in ("x1", "y1", "x2", "y2")]
        self.box = Box(x1=coords[0], y1=coords[1], x2=max(coords[0], coords[2]), y2=max(coords[1], coords[3]))

    def votes(self) -> dict[str, float]:
        best: dict[str, float] = {}
        for cand, _ in self.members:
            best[cand.model] = max(best.get(cand.model, 0.0), cand.score)
        return best

    def attributes(self) -> dict[str, str]:
        """Each model's word on the object is its most confident member's attributes (the person detector's
        best box says whether the person lies on the ground; a weaker box of it saying so is outvoted)."""
        best: dict[str, Candidate] = {}
        for cand, _ in self.members:
            if cand.model not in best or cand.score > best[cand.model].score:
                best[cand.model] = cand
        out: dict[str, str] = {}
        for cand in sorted(best.values(), key=lambda c: c.score):
            out.update(cand.attributes)
        return out


def cluster_label(candidates: list[Candidate], weights: Mapping[str, float], iou: float) -> list[_Cluster]:
    """Weighted box fusion of one label's candidates."""
    clusters: list[_Cluster] = []
    for cand in sorted(candidates, key=lambda c: -c.score):
        overlaps = [(cl.box.iou(cand.box), cl) for cl in clusters]
        best = max(overlaps, key=lambda o: o[0], default=(0.0, None))
        if best[1] is not None and best[0] >= iou:
            best[1].add(cand, weights[cand.model])
        else:
            clusters.append(_Cluster(cand, weights[cand.model]))
    return clusters


def fuse(candidates: Iterable[Candidate], params: FusionParams,
         known: Mapping[str, Iterable[str]]) -> list[Fused]:
    """Fuse the candidates (module docstring). ``known``: model -> the labels it can find (who votes on what).

    Returns the fused objects, most confident first.
    """
    weights = {m: w for m, w in params.weights.items() if w > 0}
    kept = [c for c in candidates if c.model in weights and c.score >= params.floor]
    knows = {m: set(labels) for m, labels in known.items()}
    fused: list[Fused] = []
    for label in sorted({c.label for c in kept}):
        voters = sum(w for m, w in weights.items() if label in knows.get(m, ()))
        if voters <= 0:
            continue
        for cl in cluster_label([c for c in kept if c.label == label], weights, params.iou):
            votes = cl.votes()
            score = sum(weights[m] * s for m, s in votes.items()) / voters
            fused.append(Fused(label=label, score=round(min(1.0, score), 4), box=cl.box,
                               votes={m: round(s, 4) for m, s in votes.items()}, attributes=cl.attributes()))
    return one_label_per_object(fused, params.conflict_iou, independent=params.independent)


def one_label_per_object(fused: list[Fused], conflict_iou: float, *, independent: tuple[str, ...] = ()) -> list[Fused]:
    """Of boxes with different labels overlapping by ``conflict_iou`` or more, keep the more confident; boxes
    of an ``independent`` label neither suppress nor are suppressed."""
    kept: list[Fused] = []
    for f in sorted(fused, key=lambda f: (-f.score, f.label)):
        rival = None if f.label in independent else next(
            (k for k in kept if k.label != f.label and k.label not in independent
             and k.box.iou(f.box) >= conflict_iou), None)
        if rival is None:
            kept.append(f)
        elif f.label not in rival.alternatives:
            rival.alternatives[f.label] = f.score
    return kept
