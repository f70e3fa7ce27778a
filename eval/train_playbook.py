"""Train the playbook matcher: python -m eval.train_playbook

Which card a described situation is: a logistic regression over MiniLM's pooled layers (as the
message reader sees them), trained on each card's examples (how people describe that situation),
its title with its summary, the sentences of its "What is going on", and the training half of
eval/data/playbook/stories.jsonl (long, messy stories, four per card, written apart from the
cards). Writes assistant/models/playbook.npz. Prints the accuracy with each card's examples held
out in turn, and on the stories' test half, which is never trained on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.corpus import load_corpus
from assistant.embeddings import Embedder
from assistant.playbook import MODEL_FILE, read_card
from assistant.settings import REPO_CORPUS

C = 0.01
STORIES = Path(__file__).resolve().parent / "data" / "playbook" / "stories.jsonl"


def texts(cards: list) -> tuple[list[str], list[int], list[int]]:
    """(text, card index, fold) rows: examples have folds 0, 1, 2..., the card's own words and the
    training stories fold -1, the test stories fold -2."""
    rows: list[tuple[str, int, int]] = []
    for i, card in enumerate(cards):
        rows += [(t, i, j) for j, t in enumerate(card.examples)]
        rows += [(t, i, -1) for t in [f"{card.title}. {card.summary}", *(line.text for line in card.reading)]]
    ids = [c.doc_id for c in cards]
    for line in STORIES.read_text(encoding="utf-8").splitlines():
        story = json.loads(line)
        rows.append((story["text"], ids.index(story["card"]), -1 if story["split"] == "train" else -2))
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    return mean, scale, LogisticRegression(C=C, max_iter=3000).fit((x - mean) / scale, y)


def main() -> None:
    docs, _ = load_corpus(REPO_CORPUS / "playbook")
    cards = [c for c in (read_card(d) for d in docs) if c is not None]
    words, owners, folds = texts(cards)
    layers = Embedder().encode(words).layers
    y, folds = np.array(owners), np.array(folds)
    stories = folds == -2
    held = []
    for fold in range(6):
        test = folds == fold
        mean, scale, model = fit(layers[~test & ~stories], y[~test & ~stories])
        held.append(float((model.predict((layers[test] - mean) / scale) == y[test]).mean()))
    mean, scale, model = fit(layers[~stories], y[~stories])
    story_accuracy = float((model.predict((layers[stories] - mean) / scale) == y[stories]).mean())
    np.savez_compressed(
        MODEL_FILE,
        cards=np.array([c.doc_id for c in cards]),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        coef=model.coef_.astype(np.float32),
        intercept=model.intercept_.astype(np.float32),
    )
    print(f"wrote {MODEL_FILE} for {len(cards)} cards")
    print(f"held-out example accuracy {np.mean(held):.3f}; test stories ({stories.sum()}) {story_accuracy:.3f}")


if __name__ == "__main__":
    main()
