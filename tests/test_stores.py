"""Memory, commitments and feedback in SQLite files and in a real PostgreSQL: the same assertions."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import update

from assistant import Citation, Reply
from assistant.feedback import FeedbackStore
from assistant.memory import MemoryStore
from assistant.store import REMOVED, SCHEMA_VERSION, Store, engine, schema_version


def _cited(doc_id: str, quote: str) -> Reply:
    citation = Citation(1, doc_id, "Notes", "", quote, 0.9, quote=quote, quote_start=0, quote_end=len(quote))
    return Reply(f"You wrote: {quote} [1]", [citation], True)


def test_turns_and_commitments_come_back_in_order_and_per_session(tmp_path: Path, database_url: str | None):
    store = MemoryStore(tmp_path / "memory.sqlite3", database_url)
    assert store.turns("sam") == [] and store.commitments("sam") == []
    store.add_turn("sam", "user", "I check every timesheet.")
    store.add_turn("sam", "assistant", "That leans to managing.", Reply("That leans to managing.", [], True))
    store.add_turn("priya", "user", "hello")
    store.add_commitment("sam", "let Priya approve small expenses")
    turns = store.turns("sam")
    assert [t["role"] for t in turns] == ["user", "assistant"] and turns[1]["reply"][
        "text"
    ] == "That leans to managing."
    assert [c.text for c in store.commitments("sam")] == ["let Priya approve small expenses"]
    assert store.commitments("priya") == [] and len(store.turns("priya")) == 1
    # A second store on the same database (another process) reads the same rows.
    assert MemoryStore(tmp_path / "memory.sqlite3", database_url).turns("sam") == turns


def test_quotes_of_a_removed_document_leave_memory_and_feedback(tmp_path: Path, database_url: str | None):
    memory = MemoryStore(tmp_path / "memory.sqlite3", database_url)
    feedback = FeedbackStore(tmp_path / "feedback.sqlite3", database_url)
    reply = _cited("upload-abc-notes", "our margins fell 12% in March")
    memory.add_turn("sam", "assistant", reply.text, reply)
    feedback.add("what did I write?", reply, liked=True, session="sam")
    assert memory.redact(lambda d: d.startswith("upload-abc-")) == 1
    assert feedback.redact(lambda d: d.startswith("upload-abc-")) == 1
    stored = memory.turns("sam")[0]
    assert "12%" not in stored["content"] and stored["reply"]["citations"][0]["title"] == REMOVED
    record = next(feedback.records())
    assert "12%" not in record["reply"] and record["citations"][0]["quote"] == ""
    assert memory.redact(lambda d: d.startswith("upload-abc-")) == 0  # what is gone is not counted again


def test_retention_removes_only_what_is_older(tmp_path: Path, database_url: str | None):
    memory = MemoryStore(tmp_path / "memory.sqlite3", database_url)
    feedback = FeedbackStore(tmp_path / "feedback.sqlite3", database_url)
    memory.add_turn("old", "user", "a month ago")
    memory.add_commitment("old", "an old step")
    feedback.add("old question", Reply("old reply", [], True), liked=False)
    for store, table in ((memory, memory.TABLES[0]), (memory, memory.TABLES[1]), (feedback, feedback.TABLES[0])):
        with store.db() as db:
            db.execute(update(table).values(at=table.c.at - 40 * 86400))
    memory.add_turn("new", "user", "today")
    import time

    before = time.time() - 30 * 86400
    assert memory.prune(before) == 2 and feedback.prune(before) == 1
    assert memory.turns("old") == [] and memory.commitments("old") == [] and len(memory.turns("new")) == 1
    assert list(feedback.records()) == []


def test_many_threads_write_at_once_and_nothing_is_lost(tmp_path: Path, database_url: str | None):
    store = MemoryStore(tmp_path / "memory.sqlite3", database_url)

    def talk(n: int) -> None:
        for i in range(10):
            store.add_turn(f"s{n}", "user", f"message {i}")

    threads = [threading.Thread(target=talk, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all([t["content"] for t in store.turns(f"s{n}")] == [f"message {i}" for i in range(10)] for n in range(8))


def test_a_database_newer_than_the_code_is_refused_not_written(tmp_path: Path, database_url: str | None):
    store = MemoryStore(tmp_path / "memory.sqlite3", database_url)
    store.add_turn("sam", "user", "hello")
    with engine(store.url).begin() as db:
        db.execute(update(schema_version).values(version=SCHEMA_VERSION + 1))
    with pytest.raises(RuntimeError, match="newer than this code"):
        MemoryStore(tmp_path / "memory.sqlite3", database_url).add_turn("sam", "user", "again")


def test_a_database_url_that_is_not_postgresql_is_a_clear_error(tmp_path: Path):
    from assistant import Settings

    with pytest.raises(ValueError, match="ASSISTANT_DATABASE_URL must start with postgresql://"):
        Settings.from_env({"ASSISTANT_DATABASE_URL": "mysql://x@y/z"})
    with pytest.raises(ValueError, match="must start with postgresql://"):
        Store(tmp_path / "x.sqlite3", "redis://localhost")


def test_an_unreachable_database_stops_the_start_with_one_clear_line(tmp_path: Path):
    from assistant import Coach, Settings
    from assistant.ui.serve import reachable

    url = "postgresql://coach:s3cret@127.0.0.1:1/coach"  # nothing listens on port 1
    with pytest.raises(SystemExit) as stopped:
        reachable(Coach(Settings(data_dir=tmp_path, database_url=url)))
    message = str(stopped.value)
    assert message.startswith("Cannot reach the database of ASSISTANT_DATABASE_URL") and "refused" in message
    assert "s3cret" not in message


@pytest.mark.slow
def test_answers_go_on_when_the_shared_database_goes_away(small_corpus: Path, tmp_path: Path):
    """A stateless ask (the /v1 endpoint's) still answers from what the process has loaded."""
    from assistant import Coach, Settings
    from eval.serve import postgres

    with postgres(tmp_path / "postgres") as url:
        coach = Coach(Settings(data_dir=tmp_path / "data", corpus_dir=small_corpus, database_url=url))
        assert coach.ask("What is the GROW model?").citations
    reply = coach.ask("What is the GROW model?")  # the server is stopped now
    assert reply.citations and reply.citations[0].doc_id == "grow-model"
