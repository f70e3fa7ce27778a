"""Coaching across turns: grounded follow-ups, GROW, memory that lasts, and safety."""

import shutil

import pytest

from assistant import Coach, Settings
from assistant.questions import OPTIONS_QUESTION, WAY_FORWARD_QUESTION
from assistant.replies import SAFETY


def test_follow_up_is_grounded_by_the_conversation(coach):
    turns = ["What does Kotter say about management versus leadership?", "what does he say about managers?"]
    alone = coach.ask(turns[-1])
    assert "kotter-complexity-and-change" not in [c.doc_id for c in alone.citations]
    history = [{"role": "user", "content": turns[0]}, {"role": "assistant", "content": coach.ask(turns[0]).text}]
    reply = coach.ask(turns[-1], history=history)
    assert "kotter-complexity-and-change" in [c.doc_id for c in reply.citations]


def test_options_are_for_the_situation_under_discussion(coach):
    situation = "I always just tell people exactly what to do, and I check every step they take."
    history = [{"role": "user", "content": situation}, {"role": "assistant", "content": coach.ask(situation).text}]
    reply = coach.ask("what could I do instead?", history=history)
    assert reply.intent == "options" and situation in reply.query
    assert reply.citations and all(c.doc_id.startswith("playbook-") for c in reply.citations)
    assert reply.text != coach.ask("what could I do instead?").text


def test_grow_questions_follow_the_conversation(coach):
    history = [{"role": "user", "content": "What are the levels of delegation?"}]
    options = coach.ask("what could I do instead?", history=history)
    assert options.intent == "options" and options.text.count(OPTIONS_QUESTION) == 1
    assert options.text.count("?") == 1  # one question, the last line: options, then which to try
    plan = coach.ask("This week I will let Priya run the stand-up.")
    assert plan.intent == "commitment" and WAY_FORWARD_QUESTION in plan.text and "Noted your commitment" in plan.text


def test_memory_survives_a_restart(library_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(library_dir, data)
    session = Coach(Settings(data_dir=data)).session("sam")
    session.ask("I spent my week approving expenses and checking timesheets. Am I managing or leading?")
    session.ask("This week I will let Priya approve the small expenses herself.")
    again = Coach(Settings(data_dir=data)).session("sam")
    assert [c.text for c in again.commitments()] == ["This week I will let Priya approve the small expenses herself"]
    assert len(again.history) == 4 and again.history[0]["role"] == "user"
    assert Coach(Settings(data_dir=data)).session("someone-else").commitments() == []
    summary = again.ask("Summarise our session").text
    assert "approving expenses" in summary and "leans to managing" in summary
    assert "let Priya approve the small expenses" in summary and "Options discussed" in summary


@pytest.mark.parametrize(
    "message",
    [
        "Honestly some days I think about ending my life.",
        "My manager keeps sexually harassing me after the team meetings.",
        "A colleague collapsed with chest pain in the office, what do I do?",
    ],
)
def test_distress_gets_the_safety_reply_and_no_coaching(coach, message):
    reply = coach.ask(message)
    assert reply.safety and reply.intent == "distress" and reply.text.startswith(SAFETY)
    assert reply.citations == [] and reply.diagnosis is None and not reply.text.rstrip().endswith("?")


@pytest.mark.parametrize(
    "message, intent",
    [
        ("Thanks. This week I will let Sam run the stand-up.", "commitment"),
        ("I'm going to stop checking every timesheet", "commitment"),
        ("What will happen if I delegate?", "question"),
    ],
)
def test_commitments_are_read_in_plain_words(coach, message, intent):
    assert coach.ask(message).intent == intent
