"""Train the playbook matcher: python -m eval.train_playbook

Which card a described situation is: a logistic regression over MiniLM's pooled layers (as the
message reader sees them), trained on each card's examples (how people describe that situation),
its title with its summary, the sentences of its "What is going on" and the training part of
eval/data/playbook/stories.jsonl (long, messy stories, eight per card, written from the cards).
Writes assistant/models/playbook.npz. It also fine-tunes MiniLM's top two layers with a card head
on the same rows (assistant/models/matcher.safetensors, float16; about 10 minutes on 2 cores),
whose log-probabilities the app averages with the regression's. Prints the accuracy with each
card's examples held out in turn (the regression alone), on the stories' test part, on
eval/data/playbook/free.jsonl (situations written without the cards in four slices, each labelled
by two readers; those both gave the same card; those a new card's writer claimed are marked
"relabelled" and left out) and on eval/data/playbook/blind.jsonl (situations written without the
cards by other writers, each labelled with its card by two readers; those both gave the same card),
with how often the card is right by how sure the matcher is. Neither is trained on. With half of
the blind situations in training (weighted 3) the other half rose from 0.30 to 0.36, but every
match grew less sure under thresholds set for this matcher; with the free situations in training,
the blind ones rose from 0.374 to 0.423, but the replies a judge read on the dev set got worse
where the card changed (5 of 6 changed cards there had been judged helpful), and no better on the
fresh set. With the tuned head, the right card rose from 0.407 to 0.440 (blind) and 0.481 to 0.545
(free); a judge shown both versions of the 17 dev and fresh cases whose replies changed scored them
4.92 before and 5.42 after, preferring 8 after and 9 before. With 14 more cards (108: a colleague
who wanted your job, blame after an incident, a metric that punishes good work, ...), the right
card as labelled fell on blind (0.440 -> 0.379) and free (0.522 -> 0.517, every labelled row)
situations, because the new cards claim some of them: counting as right the card a reader
preferred (or found as good) where the label and a new card disagree (54 rows), blind rose from
0.412 to 0.429 and free from 0.517 to 0.544.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant.corpus import load_corpus
from assistant.embeddings import DIMENSIONS, Embedder
from assistant.playbook import MODEL_FILE, TUNED_FILE, combined, description_key, read_card
from assistant.runtime import SPLIT
from assistant.settings import REPO_CORPUS
from assistant.understanding import TopLayers

from .train_intents import tune

C = 0.01
# The tuned matcher: MiniLM's top two layers fine-tuned with a card head on the same rows.
EPOCHS = 6
SMOOTHING = 0.1
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


def fit_tuned(texts: list[str], labels: np.ndarray, cards: list[str], epochs: int = EPOCHS) -> TopLayers:
    """MiniLM's layers above SPLIT and a linear card head, fine-tuned on ``texts`` (the packaged
    lower layers stay frozen and run once)."""
    import torch

    embedder = Embedder(runtime="torch")
    states = []
    for i in range(0, len(texts), 64):
        encoded = embedder.encode(texts[i : i + 64], SPLIT)
        for j, n in enumerate(encoded.mask.sum(dim=1).tolist()):
            states.append(encoded.states[j, : int(n)].clone())

    def take(index: list[int]) -> tuple:
        longest = max(states[i].shape[0] for i in index)
        batch, mask = torch.zeros(len(index), longest, DIMENSIONS), torch.zeros(len(index), longest, dtype=torch.long)
        for row, i in enumerate(index):
            batch[row, : states[i].shape[0]], mask[row, : states[i].shape[0]] = states[i], 1
        return batch, mask

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    top = TopLayers(embedder, cards, extra=0)
    y = torch.tensor(labels)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=SMOOTHING)
    return tune(top, len(texts), lambda index: loss_fn(top.out(top.pooled(*take(index)) * 10), y[index]), epochs, rng)


def save_tuned(top: TopLayers, path: Path) -> None:
    """The tuned layers and head in float16, with the cards in the head's order."""
    import torch
    from safetensors.torch import save_file

    tensors = {k: v.detach().to(dtype=torch.float16).contiguous() for k, v in top.state_dict().items()}
    save_file(tensors, str(path), metadata={"cards": json.dumps(top.classes)})


def tuned_logits(top: TopLayers, texts: list[str]) -> np.ndarray:
    """The tuned head's card logits for ``texts``, as the app computes them (onnxruntime states)."""
    import torch

    encoded = Embedder().encode(texts, SPLIT)
    with torch.inference_mode():
        pooled = top.pooled(torch.as_tensor(encoded.states), torch.as_tensor(encoded.mask))
        return top.out(pooled * 10).numpy()


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

    top = fit_tuned([w for w, t in zip(words, trained) if t], y[trained], [c.doc_id for c in cards])
    unseen = stories | blind | free
    tuned = np.zeros((len(words), len(cards)), np.float32)
    tuned[unseen] = tuned_logits(top, [w for w, u in zip(words, unseen) if u])

    def probabilities(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the regression alone, with nearness, with nearness and the tuned head) for ``rows``."""
        logits = model.decision_function((layers[rows] - mean) / scale)
        sims = vectors[rows] @ flat.T
        nearness = np.maximum.reduceat(sims, starts, axis=1) + sims[:, starts]
        alone = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (
            alone / alone.sum(axis=1, keepdims=True),
            combined(logits, nearness),
            combined(logits, nearness, tuned[rows]),
        )

    def accuracy(rows: np.ndarray) -> str:
        fits = y[rows] >= 0
        right = [float((p.argmax(axis=1) == y[rows])[fits].mean()) for p in probabilities(rows)]
        return f"{right[2]:.3f} ({right[1]:.3f}; {right[0]:.3f})"

    *_, p = probabilities(blind)
    right = p.argmax(axis=1) == y[blind]
    fits = y[blind] >= 0
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
    save_tuned(top, TUNED_FILE)
    print(f"wrote {MODEL_FILE} and {TUNED_FILE} for {len(cards)} cards")
    print(f"held-out example accuracy (the regression alone) {np.mean(held):.3f}")
    print("right card, as the app matches (without the tuned head; the regression alone):")
    print(f"test stories ({stories.sum()}): {accuracy(stories)}")
    print(f"blind situations with a card ({fits.sum()}): {accuracy(blind)}")
    print(f"free situations with a card ({free.sum()}): {accuracy(free)}")
    sure = p.max(axis=1)
    for low, high in ((0, 0.3), (0.3, 0.5), (0.5, 1.01)):
        band = (sure >= low) & (sure < high)
        print(
            f"  matcher {low:.1f}-{min(high, 1):.1f}: {band.sum()} situations, {right[band & fits].sum()} right, "
            f"{(band & ~fits).sum()} with no card that fits"
        )


if __name__ == "__main__":
    main()
