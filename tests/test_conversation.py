"""Coaching across turns: grounded follow-ups, GROW, memory that lasts, and safety."""

import shutil

import pytest

from assistant import Coach, Settings
from assistant.coach import SAFETY
from assistant.questions import OPTIONS_QUESTION, WAY_FORWARD_QUESTION
from assistant.session import find_commitment


@pytest.mark.parametrize(
    "turns, expected",
    [
        (
            ["What does Kotter say about management versus leadership?", "what does he say about managers?"],
            "kotter-complexity-and-change",
        ),
        (
            [
                "What are the levels of delegation?",
                "I always just tell people exactly what to do.",
                "what could I do instead?",
            ],
            "levels-of-delegation",
        ),
    ],
)
def test_follow_up_is_grounded_by_the_conversation(coach, turns, expected):
    alone = coach.ask(turns[-1])
    assert expected not in [c.doc_id for c in alone.citations]
    history: list[dict] = []
    for turn in turns[:-1]:
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": coach.ask(turn).text}]
    reply = coach.ask(turns[-1], history=history)
    assert expected in [c.doc_id for c in reply.citations]


def test_grow_questions_follow_the_conversation(coach):
    history = [{"role": "user", "content": "What are the levels of delegation?"}]
    options = coach.ask("what could I do instead?", history=history)
    assert options.text.count("**A question for you:**") == 1 and OPTIONS_QUESTION in options.text
    plan = coach.ask("This week I will let Priya run the stand-up.")
    assert WAY_FORWARD_QUESTION in plan.text and "Noted your commitment" in plan.text


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
    assert reply.safety and reply.text == SAFETY
    assert reply.citations == [] and reply.diagnosis is None and "A question for you" not in reply.text


def test_commitments_are_found_in_plain_words():
    assert (
        find_commitment("Thanks. This week I will let Sam run the stand-up.")
        == "This week I will let Sam run the stand-up"
    )
    assert find_commitment("I'm going to ask the team first") == "I'm going to ask the team first"
    assert find_commitment("What will happen if I delegate?") is None
