import json

import numpy as np
import pytest
from conftest import ROOT

from assistant import Diagnosis
from assistant.answer.context import markers
from assistant.diagnosis import FACETS, MODEL_FILE, load_model
from eval.diagnosis import evaluate

SITUATIONS = [json.loads(line) for line in (ROOT / "eval/data/situations.jsonl").open(encoding="utf-8")]


def test_training_data_is_big_varied_and_split_once():
    assert len(SITUATIONS) >= 200
    mixed = [s for s in SITUATIONS if s["mixed"]]
    assert len(mixed) / len(SITUATIONS) >= 0.15
    assert {s["split"] for s in SITUATIONS} == {"train", "test"}
    assert len({s["industry"] for s in SITUATIONS}) >= 15
    for s in SITUATIONS:
        assert set(s["facets"]) <= set(FACETS) and s["lean"] in {"management", "leadership", "balanced"}
    test_texts = {s["text"] for s in SITUATIONS if s["split"] == "test"}
    assert not test_texts & {s["text"] for s in SITUATIONS if s["split"] == "train"}


def test_shipped_model_is_what_the_training_command_builds(coach):
    from eval.train_diagnosis import train

    rebuilt = train(coach.embedder)["heads"]
    shipped = json.loads(MODEL_FILE.read_text())["heads"]
    for name, head in shipped.items():
        assert rebuilt[name]["classes"] == head["classes"]
        np.testing.assert_allclose(rebuilt[name]["coef"], head["coef"], atol=2e-3)
    assert set(load_model()) == {"situation", "lean", "facets", "commit_lean", "commit_facets"}


def test_model_meets_its_targets_on_the_test_split(coach):
    result = evaluate(coach.diagnoser.diagnose)
    assert result["clear_accuracy"] >= 0.92 and result["clear_macro_f1"] >= 0.92
    assert result["mixed_ok_rate"] >= 0.7
    assert result["non_situations_diagnosed"] == 0


@pytest.mark.parametrize(
    "text, lean, facet",
    [
        ("I spent my week approving expenses and checking timesheets.", "management", "administering"),
        ("I let Priya lead the client pitch and only joined to back her decisions.", "leadership", "empowering"),
    ],
)
def test_diagnosis_shape(coach, text, lean, facet):
    d = coach.diagnose(text)
    assert isinstance(d, Diagnosis) and d.lean == lean
    assert abs(d.management + d.leadership - 1) < 1e-6 and 0 <= d.management <= 1
    assert [f.score for f in d.facets] == sorted((f.score for f in d.facets), reverse=True)
    assert {f.name for f in d.facets} == set(FACETS)
    assert facet in [f.name for f in d.drivers()]
    assert all(f.side == lean for f in d.drivers())
    assert d.evidence and all(e in text for e in d.evidence)


@pytest.mark.parametrize("text", ["hi there", "What is the GROW model?", "thanks, that helps!"])
def test_no_forced_label(coach, text):
    assert coach.diagnose(text) is None
    assert coach.ask(text).diagnosis is None


def test_situation_reply_reads_the_lean_and_gives_cited_options_from_the_playbook(coach):
    message = "I personally approve every expense and every purchase order, however small. Am I managing or leading?"
    reply = coach.ask(message)
    d = reply.diagnosis
    assert reply.intent == "situation" and d and d.lean == "management"
    assert "leans to **managing**" in reply.text
    # Each facet that drives the read is named with what it is in a working week.
    from assistant.coaching import IN_PLAIN_WORDS

    assert all(f"{f.name} ({IN_PLAIN_WORDS[f.name]})" in reply.text for f in d.drivers())
    options = [line for line in reply.text.splitlines() if line.startswith("- ")]
    assert 2 <= len(options) <= 3 and all(markers(line) for line in options)
    assert any(c.doc_id.startswith("playbook-") for c in reply.citations)
    assert "From what you wrote" not in reply.text and message[:40] not in reply.text  # no echo
    assert reply.text.rstrip(" _").count("?") == 1 and reply.text.split("\n\n")[-1].rstrip().endswith("?")
    assert set(markers(reply.text)) == {c.index for c in reply.citations}


def test_a_commitment_is_read_by_the_behaviour_it_moves_to(coach):
    reply = coach.ask("This week I will let Sam send his report unedited.")
    assert reply.intent == "commitment" and reply.diagnosis and reply.diagnosis.lean == "leadership"
    assert "empowering" in [f.name for f in reply.diagnosis.drivers()]
    assert "moves you toward **leading**" in reply.text
