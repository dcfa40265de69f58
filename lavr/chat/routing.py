"""The first decision about a chat message: is it a question about the image(s) (``scene``: the agent answers it
with its experts), about the conversation itself (``conversation``: earlier questions, answers and their evidence),
a request for ``help``, or ``smalltalk``?

A small learned classifier, not a keyword list: a multinomial logistic regression over the message's sentence
embedding (all-MiniLM-L6-v2's first 3 layers, mean-pooled: ``lavr.chat.embedding``) and two facts about the thread
(does it have earlier turns; does the message repeat a word of an earlier answer, as "why did you say 2?" does).
Its weights (``router_weights.json``) are trained on the development set ``examples/eval/chat_dev.json`` by
``python -m lavr.chat.routing train``; a test checks they are what training gives.

A wrong ``scene`` costs little (the agent answers "cannot tell"); a scene question answered from memory is a wrong
answer. So the decision leans to ``scene``: another kind wins only when the classifier gives it at least
``min_confidence``, and a message of several clauses that reads as another kind is looked at clause by clause,
so that "thanks, and how many dogs are there?" is a scene question. Without the encoder (its package missing)
every message is a scene question, as before routing existed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from ..errors import LavrError

logger = logging.getLogger(__name__)

Kind = Literal["scene", "conversation", "help", "smalltalk"]
KINDS: tuple[Kind, ...] = ("scene", "conversation", "help", "smalltalk")
WEIGHTS_FILE = Path(__file__).with_name("router_weights.json")
# The development set the weights are trained on (in the repository, not the package).
REPO_DEV_SET = Path(__file__).resolve().parents[2] / "examples" / "eval" / "chat_dev.json"
ENCODER_LAYERS = 3
# Words that say nothing about which earlier answer a message refers to.
FUNCTION_WORDS = frozenset("a an the is are was were be of in on at to for it its this that these those and or "
                           "i you me my your we he she they them there here what which who how why do does did "
                           "not no can".split())
CLAUSE_BREAK = re.compile(r"(?:[.!?;:]+\s+|,\s*(?:and|but|so|now|then|also)\s+|\s+-+\s+|,\s+(?=(?:how|what|which|"
                          r"where|who|is|are|does|do|can|could|count|show|tell)\b))", re.IGNORECASE)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


class RouteDecision(BaseModel):
    """Which kind a message is, how sure the classifier was, and what decided it."""

    kind: Kind
    scores: dict[str, float] = Field(default_factory=dict, description="The classifier's probability per kind.")
    clause: str | None = Field(None, description="The clause that made a mixed message a scene question.")
    reason: str = ""
    seconds: float = 0.0


class RouterWeights(BaseModel):
    """A trained router: one weight row per kind over [embedding, thread facts], and how it was trained."""

    kinds: list[Kind]
    layers: int
    weights: list[list[float]]
    bias: list[float]
    min_confidence: float = Field(description="Another kind than scene needs at least this probability.")
    l2: float
    trained_on: str = Field(description="sha256 of the examples file it was trained on.")
    examples: int

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> RouterWeights:
        return cls.model_validate_json(path.read_text())


def thread_facts(text: str, earlier_answers: Sequence[str], has_history: bool) -> np.ndarray:
    """The two features that are not in the message's words alone: whether the thread has earlier turns, and
    whether the message repeats a content word of an earlier answer ("why did you say 2?", "which cat?")."""
    said = {w for a in earlier_answers for w in words(a)} - FUNCTION_WORDS
    repeats = bool(said & (set(words(text)) - FUNCTION_WORDS))
    return np.array([1.0 if has_history else 0.0, 1.0 if repeats else 0.0], dtype=np.float32)


def clauses(text: str) -> list[str]:
    """A message's clauses ("thanks, and how many dogs?" -> "thanks", "how many dogs?"), those with a word."""
    return [c.strip(" ,") for c in CLAUSE_BREAK.split(text) if words(c)]


class Router:
    """Routes chat messages. Loads the encoder on first use; ``warm_up()`` loads it in the background.

    Args:
        weights: a trained router (default: the package's ``router_weights.json``).
        encoder: a ``SentenceEncoder`` (default: all-MiniLM-L6-v2 with the weights' number of layers).
    """

    def __init__(self, weights: RouterWeights | None = None, encoder: Any = None):
        self.weights = weights or RouterWeights.load()
        self._encoder = encoder
        self._w = np.asarray(self.weights.weights, dtype=np.float32)
        self._b = np.asarray(self.weights.bias, dtype=np.float32)
        self._unavailable: str | None = None
        self._lock = threading.Lock()

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from .embedding import SentenceEncoder

            self._encoder = SentenceEncoder(layers=self.weights.layers)
        return self._encoder

    def available(self) -> bool:
        """Whether the encoder can load (``False`` after it failed once; the reason is logged)."""
        if self._unavailable is not None:
            return False
        with self._lock:
            try:
                self.encoder.ensure_ready()
            except (LavrError, OSError, ImportError, ValueError) as exc:
                self._unavailable = str(exc)
                logger.warning("chat routing is off, every message goes to the agent: %s", exc)
                return False
        return True

    def warm_up(self) -> None:
        """Load the encoder in a background thread (a chat service starts it so the first message does not wait)."""
        threading.Thread(target=self.available, name="lavr-router-warm-up", daemon=True).start()

    def probabilities(self, texts: list[str], facts: np.ndarray) -> np.ndarray:
        """(n, kinds) class probabilities of ``texts`` with their thread facts (n, 2)."""
        x = np.hstack([self.encoder.encode(texts), facts])
        return softmax(x @ self._w.T + self._b)

    def route(self, text: str, *, earlier_answers: Sequence[str] = (), has_history: bool = False) -> RouteDecision:
        """The kind of ``text`` in a thread whose earlier (scene) answers are ``earlier_answers``."""
        start = time.perf_counter()
        if not self.available():
            return RouteDecision(kind="scene", reason=f"routing unavailable ({self._unavailable})")
        facts = thread_facts(text, earlier_answers, has_history)
        probs = self.probabilities([text], facts[None])[0]
        decision = self._decide(probs)
        if decision.kind != "scene":
            parts = clauses(text)
            if len(parts) > 1:  # mixed: "thanks, and how many dogs are there?" is a question about the image
                part_probs = self.probabilities(parts, np.stack([thread_facts(p, earlier_answers, has_history)
                                                                 for p in parts]))
                for part, p in zip(parts, part_probs):
                    if self._decide(p).kind == "scene":
                        decision = RouteDecision(kind="scene", scores=decision.scores, clause=part,
                                                 reason="one clause asks about the image")
                        break
        decision.seconds = round(time.perf_counter() - start, 4)
        return decision

    def _decide(self, probs: np.ndarray) -> RouteDecision:
        scores = {k: round(float(p), 4) for k, p in zip(self.weights.kinds, probs)}
        best = self.weights.kinds[int(np.argmax(probs))]
        if best != "scene" and scores[best] < self.weights.min_confidence:
            return RouteDecision(kind="scene", scores=scores,
                                 reason=f"{best} only at {scores[best]:.2f}: in doubt, the image")
        return RouteDecision(kind=best, scores=scores, reason="classifier")


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


# Training ----------------------------------------------------------------------------------------------------

class RoutingExample(BaseModel):
    """A message in its conversation context, of a known kind (the development and blind sets' format)."""

    id: str
    context: list[dict[str, str]] = Field(default_factory=list, description="Earlier turns: {user, assistant}.")
    image_attached: bool = False
    message: str
    kind: Kind
    expected: str | None = Field(None, description="A phrase a right answer to a conversation message contains.")

    def facts(self) -> np.ndarray:
        return thread_facts(self.message, [c["assistant"] for c in self.context], bool(self.context))


def load_examples(path: Path) -> list[RoutingExample]:
    data = json.loads(Path(path).read_text())
    return [RoutingExample.model_validate(m) for m in data["messages"]]


def fit_softmax(x: np.ndarray, y: np.ndarray, classes: int, *, l2: float, steps: int = 3000) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent with momentum (deterministic: same data,
    same weights). Loss: mean cross-entropy + ``l2``/2 * |W|^2 (the bias is not penalised)."""
    n, d = x.shape
    w = np.zeros((classes, d), dtype=np.float64)
    b = np.zeros(classes, dtype=np.float64)
    onehot = np.eye(classes)[y]
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    lr, momentum = 0.5, 0.9
    x64 = x.astype(np.float64)
    for _ in range(steps):
        p = softmax(x64 @ w.T + b)
        gw = (p - onehot).T @ x64 / n + l2 * w
        gb = (p - onehot).mean(0)
        vw, vb = momentum * vw - lr * gw, momentum * vb - lr * gb
        w, b = w + vw, b + vb
    return w, b


def features(examples: list[RoutingExample], encoder: Any) -> np.ndarray:
    return np.hstack([encoder.encode([e.message for e in examples]), np.stack([e.facts() for e in examples])])


def with_history_copies(x: np.ndarray, y: np.ndarray, no_context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training rows plus, for each message written without a context, a copy as if the thread had earlier
    turns: what a message is does not change with the thread's length ("Tell me what you see." mid-thread is still
    a question about the image), and without the copies the history fact alone tips such questions away."""
    copies = x[no_context].copy()
    copies[:, -2] = 1.0  # has_history (the repeated-word fact stays 0: there are no earlier answers to repeat)
    return np.vstack([x, copies]), np.concatenate([y, y[no_context]])


def train(path: Path, encoder: Any, *, l2: float = 0.0001, min_confidence: float = 0.6,
          layers: int = ENCODER_LAYERS, x: np.ndarray | None = None) -> RouterWeights:
    """Train the router on an examples file (``x``: its features, when already computed)."""
    examples = load_examples(path)
    x = features(examples, encoder) if x is None else x
    y = np.array([KINDS.index(e.kind) for e in examples])
    w, b = fit_softmax(*with_history_copies(x, y, np.array([not e.context for e in examples])), len(KINDS), l2=l2)
    return RouterWeights(kinds=list(KINDS), layers=layers, weights=np.round(w, 6).tolist(),
                         bias=np.round(b, 6).tolist(), min_confidence=min_confidence, l2=l2,
                         trained_on=hashlib.sha256(Path(path).read_bytes()).hexdigest(), examples=len(examples))


@functools.cache
def default_router() -> Router:
    """The package's router (one per process: the encoder's weights are loaded once)."""
    return Router()


def main(argv: list[str] | None = None) -> int:
    """``python -m lavr.chat.routing train [EXAMPLES] [--out FILE]``: train and write the router's weights."""
    import argparse

    from .embedding import SentenceEncoder

    parser = argparse.ArgumentParser(prog="python -m lavr.chat.routing")
    parser.add_argument("command", choices=["train"])
    parser.add_argument("examples", nargs="?", default=str(REPO_DEV_SET))
    parser.add_argument("--out", default=str(WEIGHTS_FILE))
    args = parser.parse_args(argv)
    weights = train(Path(args.examples), SentenceEncoder(layers=ENCODER_LAYERS))
    Path(args.out).write_text(weights.model_dump_json() + "\n")
    print(f"wrote {args.out}: {weights.examples} examples, {len(weights.kinds)} kinds")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
