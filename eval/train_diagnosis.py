"""Train the diagnosis model: python -m eval.train_diagnosis

Reads the train split of eval/data/situations.jsonl and eval/data/non-situations.jsonl
(plus out-of-scope and third-person library questions as more non-situations), fits logistic regressions over
the MiniLM embeddings and writes assistant/models/diagnosis.json. The test split is never read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.diagnosis import FACET_DESCRIPTIONS, FACETS, LEANS, MODEL_FILE
from assistant.embeddings import MODEL_NAME, Embedder
from assistant.questions import SIDE_OF

DATA = Path(__file__).resolve().parent / "data"
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|my|me|we|our|us)\b", re.I)


def read(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).open(encoding="utf-8") if line.strip()]


def training_data() -> tuple[list[dict], list[str]]:
    situations = [s for s in read("situations.jsonl") if s["split"] == "train"]
    others = [n["text"] for n in read("non-situations.jsonl") if n["split"] == "train"]
    others += [q["question"] for q in read("out_of_scope.jsonl")]
    # Library questions that say nothing about the asker's own work are non-situations too;
    # first-person ones ("I spend my week on approvals...") are left out as ambiguous.
    others += [q["question"] for q in read("questions.jsonl") if not FIRST_PERSON.search(q["question"])]
    return situations, others


def _head(model: LogisticRegression, classes: list[str], multiclass: bool) -> dict:
    return {
        "classes": classes,
        "coef": np.round(model.coef_, 6).tolist(),
        "intercept": np.round(model.intercept_, 6).tolist(),
        "multiclass": multiclass,
    }


def train(embedder: Embedder | None = None) -> dict:
    embedder = embedder or Embedder()
    situations, others = training_data()
    descriptions = list(FACET_DESCRIPTIONS.items())
    x_sit = embedder.embed([s["text"] for s in situations])
    x_other = embedder.embed(others)
    x_desc = embedder.embed([d for _, d in descriptions])

    situation = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    situation.fit(np.vstack([x_sit, x_other]), [1] * len(x_sit) + [0] * len(x_other))

    lean = LogisticRegression(C=4.0, max_iter=2000)
    lean.fit(x_sit, [s["lean"] for s in situations])
    assert list(lean.classes_) == sorted(LEANS)

    x_facet = np.vstack([x_sit, x_desc])
    labels = [set(s["facets"]) for s in situations] + [{name} for name, _ in descriptions]
    coef, intercept = [], []
    for facet in FACETS:
        y = [int(facet in ls) for ls in labels]
        m = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced").fit(x_facet, y)
        coef.append(m.coef_[0])
        intercept.append(m.intercept_[0])

    return {
        "embedding_model": MODEL_NAME,
        "trained_on": {"situations": len(situations), "non_situations": len(others)},
        "heads": {
            "situation": {
                "classes": ["situation"],
                "coef": np.round(situation.coef_, 6).tolist(),
                "intercept": np.round(situation.intercept_, 6).tolist(),
                "multiclass": False,
            },
            "lean": _head(lean, list(lean.classes_), True),
            "facets": {
                "classes": FACETS,
                "coef": np.round(np.array(coef), 6).tolist(),
                "intercept": np.round(np.array(intercept), 6).tolist(),
                "multiclass": False,
            },
        },
        "sides": SIDE_OF,
    }


def main() -> None:
    model = train()
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    MODEL_FILE.write_text(json.dumps(model, separators=(",", ":")))
    print(f"wrote {MODEL_FILE} ({MODEL_FILE.stat().st_size / 1024:.0f} KiB) from {model['trained_on']}")


if __name__ == "__main__":
    main()
