"""Train the playbook matcher: python -m eval.train_playbook

Which card a described situation is: a logistic regression over MiniLM's pooled layers (as the
message reader sees them), trained on each card's examples (how people describe that situation),
its title with its summary, the sentences of its "What is going on" and the training part of
eval/data/playbook/stories.jsonl (long, messy stories, eight per card, written from the cards).
Writes assistant/models/playbook.npz. Prints the accuracy with each card's examples held out in
turn, on the stories' test part, on eval/data/playbook/free.jsonl (situations written without
the cards in four slices, each labelled by two readers; those both gave the same card; those a
new card's writer claimed are marked "relabelled" and left out) and on
eval/data/playbook/blind.jsonl (situations written without the cards by other writers, each
labelled with its card by two readers; those both gave the same card), with how often the card
is right by how sure the matcher is. Neither is trained on. With half of the blind situations in
training (weighted 3) the other half rose from 0.30 to 0.36, but every match grew less sure under
thresholds set for this matcher; with the free situations in training, the blind ones rose from
0.374 to 0.423, but the replies a judge read on the dev set got worse where the card changed
(5 of 6 changed cards there had been judged helpful), and no better on the fresh set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.corpus import load_corpus
from assistant.embeddings import Embedder
from assistant.playbook import MODEL_FILE, combined, description_key, read_card
from assistant.settings import REPO_CORPUS

C = 0.01
STORIES = Path(__file__).resolve().parent / "data" / "playbook" / "stories.jsonl"
BLIND = STORIES.with_name("blind.jsonl")
FREE = STORIES.with_name("free.jsonl")


def texts(cards: list) -> tuple[list[str], list[int], list[int]]:
    """(text, card index, fold) rows: examples have folds 0, 1, 2..., the card's own words and the
    training stories fold -1, the test stories fold -2, the blind situations fold -3 (card index -1
    where the readers found no card fits), the free situations both readers gave a card fold -4."""
    rows: list[tuple[str, int, int]] = []
    for i, card in enumerate(cards):
        rows += [(t, i, j) for j, t in enumerate(card.examples)]
        rows += [(t, i, -1) for t in [f"{card.title}. {card.summary}", *(line.text for line in card.reading)]]
    ids = [c.doc_id for c in cards]
    for line in STORIES.read_text(encoding="utf-8").splitlines():
        story = json.loads(line)
        rows.append((story["text"], ids.index(story["card"]), -1 if story["split"] == "train" else -2))
    for line in FREE.read_text(encoding="utf-8").splitlines():
        story = json.loads(line)
        if story["card"].startswith("playbook-") and not story.get("relabelled"):  # both readers gave it
            rows.append((story["text"], ids.index(story["card"]), -4))
    for line in BLIND.read_text(encoding="utf-8").splitlines():
        story = json.loads(line)
        if not story["card"]:  # the two readers disagreed
            continue
        rows.append((story["text"], ids.index(story["card"]) if story["card"] != "none" else -1, -3))
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
    stories, blind, free = folds == -2, folds == -3, folds == -4
    trained = ~stories & ~blind & ~free
    held = []
    for fold in range(6):
        test = folds == fold
        mean, scale, model = fit(layers[trained & ~test], y[trained & ~test])
        held.append(float((model.predict((layers[test] - mean) / scale) == y[test]).mean()))
    mean, scale, model = fit(layers[trained], y[trained])
    # As the app matches: the matcher moved by how near each card's descriptions are.
    descriptions = [[f"{c.title}. {c.summary}", *c.examples] for c in cards]
    flat = Embedder().embed([t for row in descriptions for t in row])
    starts = np.cumsum([0] + [len(row) for row in descriptions[:-1]])
    vectors = layers[:, -384:] / np.linalg.norm(layers[:, -384:], axis=1, keepdims=True)

    def probabilities(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the matcher alone, the matcher with nearness) for the rows selected by ``rows``."""
        logits = model.decision_function((layers[rows] - mean) / scale)
        sims = vectors[rows] @ flat.T
        nearness = np.maximum.reduceat(sims, starts, axis=1) + sims[:, starts]
        alone = np.exp(logits - logits.max(axis=1, keepdims=True))
        return alone / alone.sum(axis=1, keepdims=True), combined(logits, nearness)

    alone, p = probabilities(stories)
    story_accuracy = float((p.argmax(axis=1) == y[stories]).mean())
    story_alone = float((alone.argmax(axis=1) == y[stories]).mean())
    alone, p = probabilities(blind)
    right = p.argmax(axis=1) == y[blind]
    fits = y[blind] >= 0
    blind_alone = (alone.argmax(axis=1) == y[blind])[fits].mean()
    np.savez_compressed(
        MODEL_FILE,
        cards=np.array([c.doc_id for c in cards]),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
        coef=model.coef_.astype(np.float32),
        intercept=model.intercept_.astype(np.float32),
        # The descriptions' embeddings, so that no app embeds them again (keyed by their text).
        description_keys=np.array([description_key(t) for row in descriptions for t in row]),
        description_vectors=flat.astype(np.float32),
    )
    print(f"wrote {MODEL_FILE} for {len(cards)} cards")
    print(f"held-out example accuracy (the matcher alone) {np.mean(held):.3f}")
    print("accuracy with nearness (the matcher alone):")
    print(f"test stories ({stories.sum()}): {story_accuracy:.3f} ({story_alone:.3f})")
    print(f"blind situations with a card ({fits.sum()}): {right[fits].mean():.3f} ({blind_alone:.3f})")
    alone, free_p = probabilities(free)
    free_right, free_alone = free_p.argmax(axis=1) == y[free], alone.argmax(axis=1) == y[free]
    print(f"free situations with a card ({free.sum()}): {free_right.mean():.3f} ({free_alone.mean():.3f})")
    sure = p.max(axis=1)
    for low, high in ((0, 0.3), (0.3, 0.5), (0.5, 1.01)):
        band = (sure >= low) & (sure < high)
        print(
            f"  matcher {low:.1f}-{min(high, 1):.1f}: {band.sum()} situations, {right[band & fits].sum()} right, "
            f"{(band & ~fits).sum()} with no card that fits"
        )


if __name__ == "__main__":
    main()
