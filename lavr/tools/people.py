"""``people``: count people from two experts that cross-check each other (person detector + face detector)."""

from __future__ import annotations

from pydantic import BaseModel

from ..errors import ToolError
from ..schema import Detection
from ..settings import Settings
from .base import Availability, ImageArg, RunContext, Tool, ToolOutput
from .detect import PREDICT_CONF, DetectTool, nms_per_label
from .evidence import ANIMALS, count_people
from .faces import FacesInput, FacesTool
from .person_attributes import PersonAttributes, person_posture

PERSON = "person"


class PeopleInput(ImageArg):
    pass


class PersonEvidence(BaseModel):
    """One counted person and what supports it."""

    person: Detection | None = None  # the person box, if any
    face: Detection | None = None  # the face, if any

    def render(self) -> str:
        if self.person is not None and self.face is not None:
            return (f"{self.person.render()}: confirmed by face {self.face.id} {self.face.box.render()} "
                    f"conf={self.face.confidence:.2f}")
        if self.person is not None:
            return (f"{self.person.render()}: no face in it (turned away, hidden or small); counted as a confident, "
                    "body-shaped box")
        assert self.face is not None
        return f"{self.face.render()}: a face without a person box; counted"


class PeopleOutput(ToolOutput):
    image: str
    image_size: tuple[int, int]
    count: int
    confirmed: list[PersonEvidence]
    boxes_alone: list[PersonEvidence]
    faces_alone: list[PersonEvidence]
    not_counted: list[float]  # confidences of person boxes without a face that did not count
    faces_on_animals: list[Detection] = []  # faces without a person box inside an animal's box: not counted
    rule: str

    def to_text(self) -> str:
        w, h = self.image_size
        lines = [f"{self.image} {w}x{h}: {self.count} people ({len(self.confirmed)} person boxes confirmed by a "
                 f"face, {len(self.boxes_alone)} person boxes without a face, {len(self.faces_alone)} faces "
                 "without a person box). counts: people=" + str(self.count)]
        lines += [e.render() for e in self.confirmed + self.boxes_alone + self.faces_alone]
        if self.not_counted:
            confs = ", ".join(f"{c:.2f}" for c in self.not_counted)
            n = len(self.not_counted)
            lines.append(f"not counted: {n} weak person box{'es' if n > 1 else ''} without a face (conf {confs})")
        if self.faces_on_animals:
            ids = ", ".join(f.id for f in self.faces_on_animals)
            lines.append(f"not counted: {len(self.faces_on_animals)} face(s) inside an animal's box ({ids})")
        lines.append(f"rule: {self.rule}")
        return "\n".join(lines)


class PeopleTool(Tool[PeopleInput, PeopleOutput]):
    """Count people with cross-checked evidence: person boxes (detect) linked to faces (faces). Says how many
    person boxes a face confirms, how many person boxes have no face and how many faces have no person box.

    Prefer it to detect for questions about how many people there are or whether anyone is there.
    """

    name = "people"
    input_model = PeopleInput
    output_model = PeopleOutput

    def __init__(self, settings: Settings, *, detector: DetectTool | None = None,
                 faces: FacesTool | None = None, attributes: PersonAttributes | None = None):
        super().__init__(settings)
        self.detector = detector or DetectTool(self.settings)
        self.faces = faces or FacesTool(self.settings)
        self.attributes = attributes or PersonAttributes(self.settings)

    def availability(self) -> Availability:
        for part in (self.detector, self.faces):
            avail = part.availability()
            if not avail.available:
                return Availability(available=False, weights=avail.weights,
                                    reason=f"needs {part.name}: {avail.reason}", fix=avail.fix)
        return Availability(available=True, weights="detect + faces (see those tools)")

    def rule(self) -> str:
        d = self.detector.defaults()
        return (f"every face is a person; a person box without a face counts when conf >= "
                f"{d.person_alone_confidence:.2f} and its height >= {d.person_alone_min_aspect:.2f} x its width "
                "(thresholds chosen on data)")

    def prefetch(self, args: PeopleInput, ctx: RunContext) -> None:
        self.detector.detect_raw(args.image, ctx, conf=PREDICT_CONF)
        self.faces.faces_raw(args.image, ctx)
        if self.attributes.pose_available():
            self.attributes.poses(args.image, ctx)

    def run(self, args: PeopleInput, ctx: RunContext) -> PeopleOutput:
        try:
            stored = ctx.images.get(args.image)
        except Exception as exc:
            raise ToolError(str(exc)) from None
        raw = self.detector.detect_raw(args.image, ctx, conf=PREDICT_CONF)
        if PERSON not in raw.labels:
            raise ToolError(f"the detector does not know {PERSON}; it only knows: {', '.join(raw.labels[:20])}")
        # Candidates are unregistered until they count: a weak box must not become an object other tools count.
        candidates = [Detection(id=f"cand_{i}", image=args.image, label=d.label, confidence=d.confidence, box=d.box,
                                attributes=d.attributes)
                      for i, d in enumerate(nms_per_label(raw.detections)) if d.label == PERSON]
        faces = self.faces.run(FacesInput(image=args.image), ctx).faces
        d = self.detector.defaults()
        animals = [Detection(id=f"animal_{i}", image=args.image, label=a.label, confidence=a.confidence, box=a.box)
                   for i, a in enumerate(raw.detections) if a.label in ANIMALS and a.confidence >= d.confidence]
        result = count_people(candidates, faces, stored.size, alone_confidence=d.person_alone_confidence,
                              alone_min_aspect=d.person_alone_min_aspect, animals=animals)
        by_id = {c.id: c for c in candidates}
        face_by_id = {f.id: f for f in faces}

        def register(cand_id: str) -> Detection:
            c = by_id[cand_id]
            return ctx.register_object(image=args.image, label=c.label, confidence=c.confidence, box=c.box,
                                       attributes=c.attributes)

        confirmed = [PersonEvidence(person=register(link.person), face=face_by_id[link.face])
                     for link in result.confirmed]
        alone = [PersonEvidence(person=register(pid)) for pid in result.boxes_counted_alone]
        lone_faces = [PersonEvidence(face=face_by_id[fid]) for fid in result.faces_alone]
        evidence = self.with_attributes(args.image, [*confirmed, *alone, *lone_faces], ctx)
        ordered = sorted(evidence[:len(confirmed) + len(alone)], key=lambda e: e.person.box.x1 if e.person else 0.0)
        return PeopleOutput(
            image=args.image, image_size=stored.size, count=result.count,
            confirmed=[e for e in ordered if e.face is not None], boxes_alone=[e for e in ordered if e.face is None],
            faces_alone=evidence[len(confirmed) + len(alone):],
            not_counted=sorted((by_id[pid].confidence for pid in result.boxes_not_counted), reverse=True),
            faces_on_animals=[face_by_id[fid] for fid in result.faces_on_animals],
            rule=self.rule(),
        )

    def with_attributes(self, image_id: str, evidence: list[PersonEvidence], ctx: RunContext) -> list[PersonEvidence]:
        """The evidence with what the pose and face models decide (``person_attributes``): posture, arms and
        facing on each person, expression and age on each face and its person. Copies: registered objects keep
        what ``detect`` registered."""
        persons = [e.person for e in evidence if e.person is not None]
        faces = [e.face for e in evidence if e.face is not None]
        body = self.attributes.body(image_id, persons, ctx)
        face = self.attributes.face(image_id, faces, ctx)
        out = []
        for e in evidence:
            from_face = face.get(e.face.id, {}) if e.face is not None else {}
            person = e.person
            if person is not None:
                attrs = person_posture(person.attributes, body.get(person.id, {}))
                attrs.update({k: v for k, v in body.get(person.id, {}).items() if k != "posture"})
                if e.face is not None and attrs.get("facing") == "away":
                    del attrs["facing"]  # a face was found: no back turned
                person = person.model_copy(update={"attributes": {**attrs, **from_face}})
            found = e.face.model_copy(update={"attributes": {**e.face.attributes, **from_face}}) if e.face else None
            out.append(PersonEvidence(person=person, face=found))
        return out

