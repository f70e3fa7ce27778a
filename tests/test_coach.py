import json
from pathlib import Path

import pytest

import assistant
from assistant import Citation, Coach, Reply, Settings
from assistant.answer.context import markers
from assistant.library import owner_key


def test_public_api_exports_every_type_a_public_method_hands_out():
    import inspect
    import typing

    def named(hint: object) -> set[type]:
        found = {hint} if inspect.isclass(hint) and hint.__module__.startswith("assistant") else set()
        return found.union(*(named(arg) for arg in typing.get_args(hint)))

    handed_out: set[type] = set()
    for cls in (assistant.Coach, assistant.Session, assistant.Reply, assistant.Diagnosis):
        for name, member in inspect.getmembers(cls):
            if not name.startswith("_") and callable(member) and not inspect.isclass(member):
                hints = typing.get_type_hints(member)
                handed_out |= named(hints.get("return"))
    assert {c.__name__ for c in handed_out} <= set(assistant.__all__)
    assert {"Session", "Commitment", "SyncReport", "Document", "Passage"} <= {c.__name__ for c in handed_out}
    for name in assistant.__all__:
        assert getattr(assistant, name).__name__ == name


def _check_citations(reply: Reply) -> None:
    used = markers(reply.text)
    assert used, reply.text
    assert set(used) == {c.index for c in reply.citations}  # every marker maps; every citation is used
    assert [c.index for c in reply.citations] == list(range(1, len(reply.citations) + 1))
    for c in reply.citations:
        assert isinstance(c, Citation) and c.text and c.title and c.doc_id
        assert c.text[c.quote_start : c.quote_end].split()[-1].strip("*") in c.quote


@pytest.mark.parametrize(
    "question",
    [
        "Am I managing or leading if I review every timesheet?",
        "How did John Maxwell define leadership?",
        "What is the GROW model?",
        "How should I run a one-to-one?",
    ],
)
def test_every_marker_maps_to_a_citation(coach, question):
    reply = coach.ask(question, history=[])
    assert reply.in_scope
    _check_citations(reply)
    assert reply.text.rstrip().endswith("?")  # ends on a question for the person


def test_out_of_scope_says_so_and_cites_nothing(coach):
    reply = coach.ask("What's the capital of Australia?")
    assert reply.in_scope is False and reply.citations == [] and markers(reply.text) == []
    assert reply.intent == "off_topic" and "outside what I can help with" in reply.text
    assert "managing and leading" in reply.text


@pytest.mark.parametrize("empty", ["", "   \n\t "])
def test_empty_question_is_a_clear_error(coach, empty):
    with pytest.raises(ValueError, match="empty"):
        coach.ask(empty)


def test_long_question_is_answered_from_its_beginning(coach):
    long = "How do I delegate decisions to my team? " + "We are busy and I want them to own more of the work. " * 90
    reply = coach.ask(long)
    assert reply.in_scope and any("4,000" in n for n in reply.notes)
    assert len(reply.query) <= 4000
    _check_citations(reply)


def test_control_characters_and_lone_surrogates_are_harmless(coach):
    reply = coach.ask("How do I\x00 give feedback\ud800 that lands?\x1b[31m")
    assert reply.in_scope
    reply.text.encode("utf-8")


def test_stream_yields_partials_then_the_checked_reply(coach):
    replies = list(coach.stream("What is servant leadership?"))
    assert len(replies) > 1 and all(r.partial for r in replies[:-1]) and not replies[-1].partial
    assert replies[-1].text == coach.ask("What is servant leadership?").text
    _check_citations(replies[-1])


def test_follow_up_uses_the_history(coach):
    history = [
        {"role": "user", "content": "What is situational leadership?"},
        {"role": "assistant", "content": "..."},
    ]
    reply = coach.ask("which style fits a new hire?", history=history)
    assert reply.citations[0].doc_id == "situational-leadership"


def test_settings_from_env(tmp_path):
    env = {"ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_TOP_K": "3", "ASSISTANT_LLM": "extractive"}
    settings = Settings.from_env(env)
    assert settings.data_dir == tmp_path and settings.top_k == 3
    with pytest.raises(ValueError, match="ASSISTANT_TOP_K"):
        Settings.from_env({"ASSISTANT_TOP_K": "many"})
    with pytest.raises(ValueError, match="unknown ASSISTANT_LLM"):
        Coach(Settings(data_dir=tmp_path, llm="nonsense"))


def test_coach_over_a_users_folder(small_corpus, tmp_path):
    (small_corpus / "ours.txt").write_text(
        "At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8"
    )
    coach = Coach(Settings(data_dir=tmp_path / "d", corpus_dir=small_corpus))
    reply = coach.ask("Who decides the rota at Fernbrook Dairy?")
    assert reply.citations and reply.citations[0].doc_id == "ours"


def test_uploads_never_collide_across_owners_names_or_ids(library_dir, tmp_path, database_url):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(library_dir, data)
    coach = Coach(Settings(data_dir=data, database_url=database_url))
    before = coach.index.count()
    text = "At {} the night shift decides its own rota every Friday."
    files = {}
    for name, place in [
        ("notes.md", "Fernbrook Dairy"),
        ("notes.txt", "Quarry Lane Bakery"),
        ("报告.md", "Hollin Mill"),
    ]:
        files[name] = tmp_path / name
        files[name].write_text(text.format(place), encoding="utf-8")
    (tmp_path / "front.md").write_text("---\nid: notes\n---\n" + text.format("Marsh End"), encoding="utf-8")
    docs = [coach.add_upload(files[n], owner="Alice") for n in ("notes.md", "notes.txt")]
    docs.append(coach.add_upload(tmp_path / "front.md", owner="Alice"))
    assert len({d.doc_id for d in docs}) == 3 and len(coach.uploads("Alice")) == 3
    theirs = [coach.add_upload(files["notes.md"], owner=o) for o in ("alice", "张伟", "李娜")]
    coach.add_upload(files["报告.md"], owner="张伟")
    assert len({d.doc_id for d in docs + theirs}) == 6 and len(coach.uploads("张伟")) == 2
    assert coach.uploads("李娜")[0].doc_id == theirs[2].doc_id  # not the other non-ASCII owner's files
    coach.forget("alice")
    assert coach.uploads("alice") == [] and len(coach.uploads("Alice")) == 3
    cited = coach.ask("Who decides the rota at Quarry Lane Bakery?", owner="Alice").citations
    assert cited[0].doc_id == docs[1].doc_id
    for owner in ("Alice", "张伟", "李娜"):
        coach.forget(owner)
    assert coach.index.count() == before


def test_uploads_belong_to_their_owner_and_bad_ones_change_nothing(library_dir, tmp_path, database_url):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(library_dir, data)
    coach = Coach(Settings(data_dir=data, database_url=database_url))
    before = coach.index.count()
    evil = tmp_path / ".." / "passwd.txt"
    evil.write_text("At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8")
    doc = coach.add_upload(tmp_path / "../passwd.txt", owner="alice")
    key = owner_key("alice")
    assert Path(doc.path).parent == data / "uploads" / key and doc.doc_id.startswith(f"upload-{key}-passwd-")
    question = "Who decides the rota at Fernbrook Dairy?"
    assert coach.ask(question, owner="alice").citations[0].doc_id == doc.doc_id
    assert all(c.doc_id != doc.doc_id for c in coach.ask(question, owner="bob").citations)
    assert all(c.doc_id != doc.doc_id for c in coach.ask(question).citations)
    for name, content in [("tool.exe", b"MZ"), ("empty.md", b""), ("latin.txt", "Café".encode("latin-1"))]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=name):
            coach.add_upload(tmp_path / name, owner="alice")
    assert [d.doc_id for d in coach.uploads("alice")] == [doc.doc_id]
    coach.forget("alice")
    assert coach.uploads("alice") == [] and coach.index.count() == before


def test_the_first_message_to_a_new_coach_already_uses_the_playbook(data_copy):
    fresh = Coach(Settings(data_dir=data_copy))  # nothing opened yet: the first ask opens the library
    reply = fresh.ask("I rewrite every report my team sends me before it goes to the director.")
    assert reply.intent == "situation"
    assert any(c.doc_id.startswith("playbook-") for c in reply.citations), reply.text


def test_the_retention_policy_applied_at_start(data_copy, tmp_path):
    import shutil
    import sqlite3
    import time

    from assistant.ui.handlers import export_file

    shutil.rmtree(data_copy / "exports", ignore_errors=True)  # the page tests' exports, copied along
    coach = Coach(Settings(data_dir=data_copy, retention_days=30))
    before = coach.index.count()
    notes = tmp_path / "rota.txt"
    notes.write_text("At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8")
    coach.add_upload(notes, owner="tab-1")
    coach.session("old").ask("This week I will let Sam run the stand-up.")
    coach.session("recent").ask("This week I will let Priya chair the retro.")
    coach.feedback.add("old question", Reply("old reply", [], True), liked=True)
    turns = [{"question": "q", "reply": Reply("r", [], True)}]
    assert export_file(turns, data_copy / "exports")
    with sqlite3.connect(data_copy / "memory.sqlite3") as db:  # forty days pass for one session
        for table in ("turns", "commitments"):
            db.execute(f"UPDATE {table} SET at = at - 40 * 86400 WHERE session = 'old'")
    with sqlite3.connect(data_copy / "feedback.sqlite3") as db:
        db.execute("UPDATE feedback SET at = at - 40 * 86400")

    again = Coach(Settings(data_dir=data_copy, retention_days=30))  # the next start
    assert again.clean_up() == {"uploads": 1, "quotes of uploads": 0, "exports": 1, "memory": 3, "feedback": 1}
    assert again.uploads("tab-1") == [] and again.index.count() == before
    cited = again.ask("Who decides the rota at Fernbrook Dairy?", owner="tab-1").citations
    assert all(not c.doc_id.startswith("upload-") for c in cited)
    assert again.session("old").commitments() == [] and len(again.session("recent").commitments()) == 1
    assert list(again.feedback.records()) == [] and not (data_copy / "exports").exists()
    assert Coach(Settings(data_dir=data_copy, retention_days=0)).clean_up(now=time.time() + 1e9)["memory"] == 0


def test_quotes_of_an_upload_leave_memory_and_feedback_with_it(data_copy, tmp_path):
    secret = "At Fernbrook Dairy the night shift decides its own rota every Friday."
    notes = tmp_path / "rota.txt"
    notes.write_text(secret, encoding="utf-8")
    question = "Who decides the rota at Fernbrook Dairy?"

    def stored() -> str:
        memory = json.dumps(coach.memory.turns("browser-1"), ensure_ascii=False)
        return memory + json.dumps(list(coach.feedback.records()), ensure_ascii=False)

    coach = Coach(Settings(data_dir=data_copy))
    ends = {"tab-1": lambda: coach.forget("tab-1"), "tab-2": lambda: Coach(coach.settings).clean_up()}
    for owner, forget in ends.items():  # a tab closes; the app restarts
        coach.add_upload(notes, owner=owner)
        reply = coach.session("browser-1").ask(question, owner=owner)
        assert any(c.doc_id.startswith("upload-") for c in reply.citations)
        coach.feedback.add(question, reply, liked=True, session="browser-1")
        assert "night shift decides its own rota" in stored()
        forget()
        assert "night shift" not in stored() and "(quote removed with its document)" in stored()
    assert Coach(coach.settings).clean_up()["quotes of uploads"] == 0  # what is gone is not counted again
    # the rest of the conversation stays
    assert [t["content"] for t in coach.session("browser-1").history if t["role"] == "user"] == [question, question]
