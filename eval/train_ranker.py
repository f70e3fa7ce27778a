"""Train the answer-sentence ranker: python -m eval.train_ranker [--evaluate]

Reads the labelled (question, answer sentence) pairs of eval/data/answers, retrieves passages
for each question as the coach does, and labels the candidate sentences of those passages (1
for the answer). Fits a logistic regression over ``assistant.answer.ranking.features`` on the
train split and writes assistant/models/ranker.json. --evaluate prints MRR and hit@1 on the
test split for the ranker and for similarity alone (the coach's choice before the ranker).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from assistant import Coach
from assistant.answer.ranking import FEATURES, MODEL_FILE, Candidate, matrix

DATA = Path(__file__).resolve().parent / "data" / "answers"


def read_pairs(split: str | None = None) -> list[dict]:
    rows = []
    for path in sorted(DATA.glob("*.jsonl")):
        rows += [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


def _same(a: str, b: str) -> bool:
    a, b = " ".join(a.split()), " ".join(b.split())
    return a == b or (len(b) > 30 and b in a)


def candidates(coach: Coach, question: str) -> tuple[list[Candidate], np.ndarray]:
    """The sentences of the passages the coach retrieves for ``question``, and its vector.

    Reaches inside the Coach (retriever, index): the ranker learns from the sentences it stores."""
    found = coach.retriever.retrieve(question)
    rank = {p.chunk.chunk_id: i for i, p in enumerate(found.passages)}
    by_chunk: dict[str, list] = {}
    for sentence, vector in coach.index.sentences_of(rank):
        by_chunk.setdefault(sentence.chunk_id, []).append((sentence, vector))
    out = []
    for chunk_id, items in by_chunk.items():
        items.sort(key=lambda item: item[0].start)
        for position, (sentence, vector) in enumerate(items):
            if not sentence.text.rstrip().endswith("?"):
                passage = found.passages[rank[chunk_id]]
                out.append(Candidate(sentence, vector, passage, rank[chunk_id], position))
    return out, found.vector


def examples(coach: Coach, rows: list[dict]) -> list[tuple[np.ndarray, np.ndarray, list[Candidate]]]:
    """(features, labels, candidates) per question."""
    out = []
    for row in rows:
        cands, vector = candidates(coach, row["question"])
        if not cands:
            out.append((np.zeros((0, len(FEATURES))), np.zeros(0), []))
            continue
        x = matrix(cands, row["question"], vector)
        y = np.array([float(_same(c.sentence.text, row["answer"])) for c in cands])
        out.append((x, y, cands))
    return out


def ranks(scores: list[np.ndarray], labels: list[np.ndarray]) -> dict:
    """MRR and hit@1 (a question whose answer was not retrieved counts as a miss)."""
    reciprocal, hits = [], []
    for s, y in zip(scores, labels):
        if not len(y) or not y.any():
            reciprocal.append(0.0)
            hits.append(0.0)
            continue
        order = np.argsort(-s)
        first = int(np.flatnonzero(y[order])[0])
        reciprocal.append(1.0 / (first + 1))
        hits.append(float(first == 0))
    return {"mrr": float(np.mean(reciprocal)), "hit@1": float(np.mean(hits)), "n": len(labels)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate", action="store_true", help="only print the test split's figures")
    args = parser.parse_args(argv)
    coach = Coach()
    if not args.evaluate:
        train = examples(coach, read_pairs("train"))
        x = np.vstack([e[0] for e in train if len(e[1])])
        y = np.concatenate([e[1] for e in train if len(e[1])])
        model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x, y)
        MODEL_FILE.write_text(
            json.dumps(
                {
                    "features": list(FEATURES),
                    "coef": np.round(model.coef_[0], 6).tolist(),
                    "intercept": round(float(model.intercept_[0]), 6),
                    "trained_on": {"questions": len(train), "candidates": int(len(y)), "answers": int(y.sum())},
                },
                indent=1,
            )
        )
        print(f"wrote {MODEL_FILE}: {dict(zip(FEATURES, np.round(model.coef_[0], 2)))}")
    from assistant.answer import ranking

    ranking.load_weights.cache_clear()
    test = examples(coach, read_pairs("test"))
    labels = [e[1] for e in test]
    coef, intercept = ranking.load_weights()
    learned = ranks([e[0] @ coef + intercept if len(e[1]) else e[1] for e in test], labels)
    similarity = ranks([e[0][:, 0] - 0.02 * (1 / e[0][:, 2] - 1) if len(e[1]) else e[1] for e in test], labels)
    covered = np.mean([float(y.any()) if len(y) else 0.0 for y in labels])
    print(f"test split: {learned['n']} questions; answer among the candidates for {covered:.2f}")
    print(f"  learned ranker:   MRR {learned['mrr']:.3f}  hit@1 {learned['hit@1']:.3f}")
    print(f"  similarity alone: MRR {similarity['mrr']:.3f}  hit@1 {similarity['hit@1']:.3f}")


if __name__ == "__main__":
    main()
