"""The page's handlers, fed the shapes Gradio 6 hands them (no browser)."""

from types import SimpleNamespace

import pytest

from assistant import Coach, Settings
from assistant.ui.handlers import export_file, on_like, on_unload, respond
from assistant.ui.render import history_from_turns, source_title, sources_html, turns_sources_html

SITUATION = "I spent my week approving expenses and checking timesheets. Am I managing or leading?"


def gradio_message(role: str, text: str) -> dict:
    """A chat message as Gradio 6 hands it back to a handler: content is a list of parts."""
    return {"role": role, "metadata": None, "content": [{"type": "text", "text": text}], "options": None}


def _final(coach, message, messages, turns):
    request = SimpleNamespace(session_hash="page-test")
    *_, last = respond(coach, message, messages, turns, 5, True, "page-test-user", request)
    return last


def test_a_follow_up_in_the_page_gets_the_earlier_turns(small_coach):
    coach = small_coach
    box, messages, _, _, _, turns = _final(coach, SITUATION, [], [])
    # What Gradio hands back on the next message: its own shapes, not the objects we gave it.
    shown = [gradio_message(m.role, m.content) for m in messages]
    box, messages, sources, _, exported, turns = _final(coach, "What could I do instead?", shown, turns)
    follow_up = turns[-1]["reply"]
    assert SITUATION in follow_up.query, "the follow-up was answered without the conversation"
    assert follow_up.in_scope and follow_up.citations
    assert history_from_turns(turns[:1]) == [
        {"role": "user", "content": SITUATION},
        {"role": "assistant", "content": turns[0]["reply"].text},
    ]
    # Both replies' markers open a card, and the export holds both turns.
    assert 'id="source-1-1"' in sources and 'id="source-2-1"' in sources
    text = open(exported, encoding="utf-8").read()
    assert SITUATION in text and "What could I do instead?" in text


def test_export_is_ready_after_each_reply_and_absent_before():
    assert export_file([]) is None


@pytest.mark.parametrize("liked_message, expected", [(0, 0), (2, 0), (3, 1), (4, 1)])
def test_feedback_lands_on_the_reply_that_was_liked(liked_message, expected):
    saved = []
    fake = SimpleNamespace(feedback=SimpleNamespace(add=lambda q, r, liked, session: saved.append(q)))
    turns = [
        {"question": "first", "reply": None, "first": 0},  # user 0, reply 1, sources 2
        {"question": "second", "reply": None, "first": 3},  # user 3, reply 4
    ]
    on_like(fake, SimpleNamespace(index=liked_message, liked=True), turns, SimpleNamespace(session_hash="x"))
    assert saved == [turns[expected]["question"]]


def test_a_title_is_not_repeated_as_its_section():
    from assistant.types import Citation

    same = Citation(1, "d", "Empowering People", "Empowering People", "text", 0.5)
    other = Citation(1, "d", "Empowering People", "What it means", "text", 0.5)
    assert source_title(same) == "Empowering People"
    assert source_title(other) == "Empowering People — What it means"


def test_an_empty_conversation_has_no_sources_yet():
    assert "No sources yet" in turns_sources_html([]) == sources_html([], 0)


def test_closing_a_page_drops_its_uploads_only_when_signed_in_and_costs_nothing_without(data_copy, tmp_path):
    coach = Coach(Settings(data_dir=data_copy))
    notes = tmp_path / "rota.txt"
    notes.write_text("At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8")
    coach.add_upload(notes, owner="tab-1")
    # Gradio's heartbeat route reaches this handler without a login: it must not end another session.
    on_unload(coach, SimpleNamespace(session_hash="tab-1", username=None), require_login=True)
    assert len(coach.uploads("tab-1")) == 1
    syncs = []
    real_sync = coach.library.index.sync
    coach.library.index.sync = lambda *a, **k: syncs.append(a) or real_sync(*a, **k)
    on_unload(coach, SimpleNamespace(session_hash="tab-2", username=None))  # a tab that uploaded nothing
    assert syncs == []
    on_unload(coach, SimpleNamespace(session_hash="tab-1", username="alice"), require_login=True)
    assert coach.uploads("tab-1") == [] and len(syncs) == 1


def test_feedback_export_keeps_one_record_a_line_whatever_the_text_holds(tmp_path, database_url):
    import io
    import json

    from assistant import Reply
    from assistant.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "feedback.sqlite3", database_url)
    odd = "first\u2028second\u2029third\u0085fourth"
    store.add(odd, Reply(f"reply {odd}", [], True), liked=False, session="s")
    store.add("plain", Reply("fine", [], True), liked=True, session="s")
    out = io.StringIO()
    assert store.export(out) == 2
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["question"] == odd and json.loads(lines[1])["rating"] == "up"


def test_in_the_page_a_follow_up_stays_on_the_situation_and_a_step_moves_toward_what_it_lacked(coach):
    situation = "I sign off every purchase order and every discount myself, even the tiny ones, and my leads wait."
    messages, turns, panels = [], [], []
    for message in (situation, "Is this a managing thing or a leading thing?", "why would that matter?"):
        _, messages, _, diagnosis, _, turns = _final(coach, message, messages, turns)
        panels.append(diagnosis)
        # as Gradio hands them back
        messages = [m if isinstance(m, dict) else gradio_message(m.role, m.content) for m in messages]
    first, which, why = (t["reply"] for t in turns)
    cards = {c.doc_id for c in first.citations if c.doc_id.startswith("playbook-")}
    assert which.text.startswith("That leans to **managing**") and "Leans to managing" in panels[1]
    assert why.citations and {c.doc_id for c in why.citations} <= cards
    *_, turns = _final(coach, "I'll let my two leads approve anything under 500 euros from Monday.", messages, turns)
    assert "toward **leading**: more empowering" in turns[-1]["reply"].text


def test_in_the_page_a_common_question_gets_its_answer_and_sources_and_a_named_feeling_is_met(coach):
    _, messages, sources, _, _, turns = _final(coach, "How often should I praise people?", [], [])
    answer = turns[-1]["reply"]
    assert [c.doc_id for c in answer.citations][:1] == ["faq-people"] and "Ask yourself" not in answer.text
    assert "Common questions: leading people day to day" in sources and 'id="source-1-1"' in sources
    shown = [gradio_message(m.role, m.content) for m in messages]
    situation = "I check every expense claim my team submits myself, even the tiny ones. Honestly I'm exhausted."
    _, messages, sources, diagnosis, _, turns = _final(coach, situation, shown, turns)
    assert turns[-1]["reply"].text.startswith("That sounds exhausting.") and "Leans to managing" in diagnosis
