"""Managing or leading? A learned diagnosis of a described situation, facet by facet.

The model is three small linear heads over the MiniLM embedding (is this a situation; the
lean; the ten facets), trained by ``python -m eval.train_diagnosis`` on eval/data and shipped
as plain numbers in ``models/diagnosis.json``: no pickles, no scikit-learn at run time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .embeddings import Embedder
from .questions import SIDE_OF
from .types import Diagnosis, Facet

MODEL_FILE = Path(__file__).resolve().parent / "models" / "diagnosis.json"
FACETS = list(SIDE_OF)
LEANS = ["management", "leadership", "balanced"]
SITUATION_THRESHOLD = 0.5
EVIDENCE_MAX = 3
# A clause is evidence when it scores well on a driving facet, and near the best clause.
EVIDENCE_FLOOR = 0.3
EVIDENCE_SHARE = 0.6

# What each facet looks like, in plain words: training examples, and the query that finds
# the library's passages about it.
FACET_DESCRIPTIONS = {
    "planning": "Planning: deciding steps, schedules, budgets and timelines in advance.",
    "organizing": "Organizing: arranging people, roles, shifts and resources so the work gets done.",
    "administering": "Administering: approvals, paperwork, reports and keeping routine processes running.",
    "controlling": "Controlling: checking work, monitoring results and correcting deviations from targets.",
    "enforcement": "Enforcement: applying rules and policies, holding people to standards, consequences.",
    "direction": "Direction: setting where the team is heading and aligning people on priorities.",
    "vision": "Vision: a picture of a better future that people can see and want to build.",
    "motivation": "Motivation: understanding what drives people and giving their work energy and meaning.",
    "inspiring": "Inspiring: lifting people's belief through example, stories and enthusiasm.",
    "empowering": "Empowering: handing people real authority, trusting them to decide and growing them.",
}

_CLAUSE = re.compile(r"(?<=[.!?;])\s+|,\s+(?:and|but|then|so|while)\s+|\s+(?:and then|but)\s+")


@dataclass(frozen=True)
class _Head:
    classes: list[str]
    coef: np.ndarray
    intercept: np.ndarray

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Per-class probabilities: softmax for one multi-class head, sigmoid per class otherwise."""
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        z = x @ self.coef.T + self.intercept
        if self.coef.shape[0] > 1 and self.multiclass:
            z = z - z.max(axis=-1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=-1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-z))

    multiclass: bool = False
    # A head over MiniLM's pooled layers ("layers") standardises them; others read the embedding.
    input: str = "vector"
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None


@lru_cache(maxsize=2)
def load_model(path: Path = MODEL_FILE) -> dict[str, _Head]:
    raw = json.loads(Path(path).read_text())
    return {
        name: _Head(
            classes=head["classes"],
            coef=np.asarray(head["coef"], dtype=np.float32),
            intercept=np.asarray(head["intercept"], dtype=np.float32),
            multiclass=head.get("multiclass", False),
            input=head.get("input", "vector"),
            mean=np.asarray(head["mean"], dtype=np.float32) if "mean" in head else None,
            scale=np.asarray(head["scale"], dtype=np.float32) if "scale" in head else None,
        )
        for name, head in raw["heads"].items()
    }


def clauses(text: str) -> list[str]:
    # Whitespace collapsed first: the pattern's "\s+and" alternatives backtrack on long runs of it.
    parts = [p.strip(" ,;.!?") for p in _CLAUSE.split(" ".join(text.split()))]
    return [p for p in parts if len(p.split()) >= 3]


class Diagnoser:
    """Diagnose described situations with the shipped model.

    Example:
        >>> Diagnoser(Embedder()).diagnose("I checked every timesheet and signed off all expenses.").lean
        'management'
    """

    def __init__(self, embedder: Embedder, model_path: Path = MODEL_FILE) -> None:
        self.embedder = embedder
        self.heads = load_model(model_path)

    def situation_probability(self, vector: np.ndarray) -> float:
        return float(self.heads["situation"].scores(vector)[0])

    def diagnose(
        self,
        text: str,
        vector: np.ndarray | None = None,
        *,
        layers: np.ndarray | None = None,
        commitment: bool = False,
        force: bool = False,
    ) -> Diagnosis | None:
        """A Diagnosis of ``text``, or None when it does not describe a work situation.

        ``commitment``: read the behaviour the person is moving to (its own heads, trained on
        commitments: "I'll stop checking every timesheet" is empowering). ``force``: the message
        is already known to be a situation or commitment, so the situation head is not asked.
        ``vector`` and ``layers``: the message's embedding and pooled layers, when already computed.
        """
        lean_head, facet_head = ("commit_lean", "commit_facets") if commitment else ("lean", "facets")
        if vector is None or (layers is None and self.heads[lean_head].input == "layers"):
            encoded = self.embedder.encode([text])
            vector, layers = encoded.vectors[0], encoded.layers[0]
        if not (force or commitment) and self.situation_probability(vector) < SITUATION_THRESHOLD:
            return None
        x = layers if self.heads[lean_head].input == "layers" else vector
        lean_p = dict(zip(self.heads[lean_head].classes, self.heads[lean_head].scores(x)))
        head = self.heads[facet_head]
        facets = sorted(
            (Facet(name, SIDE_OF[name], round(float(p), 4)) for name, p in zip(head.classes, head.scores(vector))),
            key=lambda f: f.score,
            reverse=True,
        )
        management = float(lean_p["management"] + lean_p["balanced"] / 2)
        lean = max(lean_p, key=lean_p.get)
        shares = {"management": round(management, 4), "leadership": round(1.0 - management, 4)}
        drivers = Diagnosis(lean, **shares, facets=facets, evidence=[]).drivers()
        evidence = [] if commitment else self._evidence(text, [f.name for f in drivers])
        return Diagnosis(lean=lean, **shares, facets=facets, evidence=evidence)

    def _evidence(self, text: str, top: list[str]) -> list[str]:
        """The clauses of the person's text that score highest on the top facets."""
        parts = clauses(text)
        if not parts:
            return []
        head = self.heads["facets"]
        index = [head.classes.index(name) for name in top]
        scores = head.scores(self.embedder.embed(parts))[:, index].max(axis=1)
        floor = max(EVIDENCE_FLOOR, EVIDENCE_SHARE * float(scores.max()))
        best = sorted(range(len(parts)), key=lambda i: scores[i], reverse=True)[:EVIDENCE_MAX]
        return [parts[i] for i in sorted(best) if scores[i] >= floor]
