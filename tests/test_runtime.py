"""MiniLM on onnxruntime: the same numbers as torch, exported once, and answers without torch."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.corpus import load_corpus
from assistant.embeddings import Embedder
from assistant.understanding import Reader
from eval.train_intents import read_intents

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def both() -> tuple[Embedder, Embedder]:
    return Embedder(runtime="onnx"), Embedder(runtime="torch")


def test_onnx_embeddings_and_layers_match_torch(both):
    onnx, torch = both
    assert onnx.onnx is not None and torch.onnx is None
    docs, _ = load_corpus(ROOT / "corpus")
    # Whole documents (cut at 256 tokens), one-word and empty-ish texts, non-ASCII, in one batch.
    texts = [d.text for d in docs[::4]] + ["hello", "?", "Ça va? Ünïcode — 🙂 naïve café", "word " * 400]
    cosine = (onnx.embed(texts) * torch.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine.min()
    a, b = onnx.encode(texts[:8]), torch.encode(texts[:8])
    assert np.abs(a.layers - b.layers).max() < 1e-3
    assert np.abs(a.vectors - b.vectors).max() < 1e-4


def test_the_reader_reads_every_kind_the_same_on_both(both):
    onnx, torch = both
    fast, slow = Reader(onnx), Reader(torch)
    rows = read_intents("test")
    picked = [r for kind in sorted({r["intent"] for r in rows}) for r in [x for x in rows if x["intent"] == kind][:6]]
    history = [{"role": "user", "content": "I rewrite every report my team sends me."}]
    for row in picked:
        for turns in ([], history):
            a, b = fast.read(row["text"], turns), slow.read(row["text"], turns)
            assert a.intent == b.intent and a.sure == b.sure, row["text"]
            assert max(abs(a.scores[k] - b.scores[k]) for k in a.scores) < 1e-3, row["text"]
            assert abs(a.distress - b.distress) < 1e-3


def test_an_unwritable_cache_falls_back_to_torch_and_says_so(tmp_path, monkeypatch, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(blocked / "cache"))
    embedder = Embedder(runtime="onnx")
    with caplog.at_level(logging.WARNING):
        vector = embedder.embed_one("How do I delegate well?")
    assert embedder.onnx is None and "running MiniLM on torch" in caplog.text
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    assert not list(tmp_path.glob("**/*.onnx"))


def test_an_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="runtime must be"):
        Embedder(runtime="tensorflow")


ANSWER = """
import sys
from assistant import Coach, Settings
reply = Coach(Settings(data_dir=sys.argv[1])).ask("Am I managing or leading if I review every timesheet?")
print(len(reply.citations), reply.intent, "torch" in sys.modules)
"""


@pytest.mark.slow
def test_the_first_start_exports_once_and_later_answers_never_import_torch(data_copy, tmp_path):
    env = {"ASSISTANT_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}

    def answer() -> list[str]:
        run = subprocess.run([sys.executable, "-c", ANSWER, str(data_copy)], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout.split()

    first = answer()
    graphs = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert [g.rsplit("-", 1)[0] for g in graphs] == ["matcher", "minilm", "reader", "reader-wide"]
    assert first[2] == "True"
    second = answer()
    assert second[:2] == first[:2] and int(second[0]) > 0
    assert second[2] == "False"  # torch was never imported
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == graphs


def test_the_tuned_card_matcher_is_used_and_gives_the_same_cards_on_both(both):
    from assistant.playbook import Playbook

    docs, _ = load_corpus(ROOT / "corpus" / "playbook")
    stories = [
        "My sous chef is brilliant but the commis are scared of him; he takes the pan off them and does it himself.",
        "I stay up every night fixing my team's slides before they go to the client.",
        "Two of my nurses have stopped speaking to each other after a row over handover notes.",
    ]
    matched = []
    for embedder in both:
        playbook = Playbook(docs, embedder)
        playbook.keep_descriptions(embedder.embed)  # the shipped embeddings, as at ingest
        assert playbook._tuned is not None  # the shipped head knows exactly these cards
        encoded = embedder.encode(stories)
        for i in range(len(stories)):
            tokens = (encoded.states[i : i + 1], encoded.mask[i : i + 1])
            tuned = playbook.match(encoded.vectors[i], encoded.layers[i], 3, tokens)
            plain = playbook.match(encoded.vectors[i], encoded.layers[i], 3)
            assert [m.score for m in tuned] != [m.score for m in plain]  # the tuned head moves the match
            matched.append([(m.card.doc_id, m.score) for m in tuned])
    half = len(matched) // 2
    for a, b in zip(matched[:half], matched[half:]):
        assert [c for c, _ in a] == [c for c, _ in b]
        assert max(abs(x - y) for (_, x), (_, y) in zip(a, b)) < 1e-3
