"""The same Coach against a real Chroma server (``chroma run`` on a free loopback port)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant import Coach, Settings
from assistant.corpus import load_corpus
from eval.scale import chroma_server

pytestmark = pytest.mark.skipif(
    not Path(sys.executable).with_name("chroma").exists(), reason="the chroma command (chromadb) is not installed"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "db", timeout=90) as (url, _):
        yield url


def test_a_coach_indexes_into_and_answers_from_a_chroma_server(server: str, small_corpus: Path, tmp_path: Path):
    data = tmp_path / "data"
    coach = Coach(Settings(data_dir=data, corpus_dir=small_corpus, chroma_url=server))
    first = coach.ingest(progress=False)
    docs = sorted(d.doc_id for d in load_corpus(small_corpus)[0])
    assert sorted(first.added) == docs and first.records_written > 0
    assert not (data / "chroma").exists()  # nothing went to the embedded store

    # A second Coach (as after a restart, or another app process) finds nothing to do.
    again = Coach(Settings(data_dir=tmp_path / "other", corpus_dir=small_corpus, chroma_url=server))
    report = again.ingest(progress=False)
    assert report.records_written == 0 and report.records_deleted == 0 and not report.changed
    assert sorted(report.unchanged) == docs

    reply = again.ask("What is the GROW model?")
    assert reply.in_scope and reply.citations and reply.citations[0].doc_id == "grow-model"
    assert {c.index for c in reply.citations} == set(range(1, len(reply.citations) + 1))
    assert "[1]" in reply.text

    # A change made through one process is seen by the other's next sync.
    grow = small_corpus / "grow-model.md"
    grow.write_text(grow.read_text(encoding="utf-8").replace("four-stage", "four-step"), encoding="utf-8")
    assert coach.ingest(progress=False).updated == ["grow-model"]
    assert again.ingest(progress=False).records_written == 0
    texts = again.index.chunks.get(where={"doc_id": "grow-model"})["documents"]
    assert any("four-step" in t for t in texts) and not any("four-stage" in t for t in texts)


def test_uploads_stay_with_their_owner_on_a_server(server: str, small_corpus: Path, tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=small_corpus, chroma_url=server, collection="uploads")
    coach = Coach(settings)
    mine = tmp_path / "rota.txt"
    mine.write_text("At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8")
    doc = coach.add_upload(mine, owner="alice")
    question = "Who decides the rota at Fernbrook Dairy?"
    assert coach.ask(question, owner="alice").citations[0].doc_id == doc.doc_id
    assert all(c.doc_id != doc.doc_id for c in coach.ask(question, owner="bob").citations)
    coach.forget("alice")
    assert coach.index.chunks.get(where={"owner": "alice"})["ids"] == []


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path):
    from eval.serve import free_port

    settings = Settings(data_dir=tmp_path, corpus_dir=tmp_path, chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ValueError, match="Could not connect to a Chroma server"):
        Coach(settings).ingest(progress=False)


def test_a_malformed_server_url_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="ASSISTANT_CHROMA_URL must look like"):
        Coach(Settings(data_dir=tmp_path, chroma_url="127.0.0.1:8000")).ingest(progress=False)


def test_two_processes_share_uploads_memory_and_feedback(
    server: str, small_corpus: Path, tmp_path: Path, database_url: str | None
):
    """Two Coaches, as two app processes, on one Chroma server: with PostgreSQL each has a data
    dir of its own; with SQLite they must share one."""
    import io
    import json

    dirs = ("a", "b") if database_url else ("shared", "shared")
    a, b = (
        Coach(Settings(data_dir=tmp_path / d, corpus_dir=small_corpus, chroma_url=server, database_url=database_url))
        for d in dirs
    )
    notes = tmp_path / "notes.md"
    notes.write_text("# Q3 notes\n\nThe quokka project's margins fell 12% in March when the night rota collapsed.\n")
    b.ask("hello")  # b is up before the upload
    doc = a.add_upload(notes, owner="alice")
    question = "What happened to the quokka project's margins?"
    theirs = b.ask(question, owner="alice")
    assert [c.doc_id for c in theirs.citations][:1] == [doc.doc_id] and "12%" in theirs.text
    assert all(c.doc_id != doc.doc_id for c in b.ask(question, owner="bob").citations)
    assert [d.doc_id for d in b.uploads("alice")] == [doc.doc_id]

    a.session("browser-1").ask("This week I will let Priya run the stand-up.")
    assert [c.text for c in b.session("browser-1").commitments()] == ["This week I will let Priya run the stand-up"]
    a.feedback.add("q from a", theirs, liked=True, session="browser-1")
    b.feedback.add("q from b", theirs, liked=False, session="browser-2")
    out = io.StringIO()
    assert a.feedback.export(out) == 2
    assert {json.loads(line)["question"] for line in out.getvalue().splitlines()} == {"q from a", "q from b"}

    b.forget("alice")  # her page closed on b: gone for a too
    assert a.uploads("alice") == []
    assert all(c.doc_id != doc.doc_id for c in a.ask(question, owner="alice").citations)


def test_a_document_ingested_in_one_place_reaches_the_app_processes_without_a_restart(
    server: str, small_corpus: Path, tmp_path: Path, postgres_url: str
):
    def settings(name: str) -> Settings:
        return Settings(data_dir=tmp_path / name, corpus_dir=small_corpus, chroma_url=server, database_url=postgres_url)

    app = Coach(settings("app"))
    question = "Who decides the rota at Fernbrook Dairy?"
    assert all(c.doc_id != "fernbrook" for c in app.ask(question).citations)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "fernbrook.md").write_text(
        "---\nid: fernbrook\ntitle: Fernbrook Dairy\n---\n# Fernbrook Dairy\n\n"
        "At Fernbrook Dairy the night shift decides its own rota every Friday.\n",
        encoding="utf-8",
    )
    assert Coach(settings("ingest")).ingest(extra, progress=False).added == ["fernbrook"]  # from one place
    assert app.ask(question).citations[0].doc_id == "fernbrook"  # the running process sees it
    restarted = Coach(settings("app"))  # its corpus lacks the folder; a start removes nothing
    assert restarted.ask(question).citations[0].doc_id == "fernbrook"
