import os
import re
import subprocess
import sys
from pathlib import Path

from assistant.corpus import load_corpus

ROOT = Path(__file__).resolve().parent.parent


def _run(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ask_prints_the_answer_and_numbered_sources(data_copy: Path):
    result = _run(data_copy, "ask", "What do managers focus on?")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "Sources:" in result.stdout and "planning" in result.stdout.split("\n")[0]
    # the source document, or the common-questions article that answers this question in a heading
    assert re.search(r"\[1\] .+\((?:management-vs-leadership|faq-managing-and-leading)\)", result.stdout)


def test_ask_with_an_empty_question_explains(data_copy: Path):
    result = _run(data_copy, "ask", "   ")
    assert result.returncode == 2 and "empty" in result.stderr


def test_ingest_adds_a_folder_and_reports(data_copy: Path, tmp_path: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "team-notes.txt").write_text("Our rota is decided by the night shift at Fernbrook Dairy.", encoding="utf-8")
    (mine / "broken.txt").write_bytes(b"\xff\xfe\x00bad")
    result = _run(data_copy, "ingest", str(mine))
    assert result.returncode == 0, result.stderr
    library = len(load_corpus(ROOT / "corpus")[0])
    assert "1 added" in result.stdout and f"{library} unchanged" in result.stdout
    assert "broken.txt" in result.stderr
    again = _run(data_copy, "ask", "Who decides the rota at Fernbrook Dairy?")
    assert "team-notes" in again.stdout


def test_chat_answers_follow_ups_until_quit(data_copy: Path):
    result = _run(data_copy, "chat", stdin="What is situational leadership?\n\nwhich style fits a new hire?\nquit\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("coach>") == 2
    assert "Type a question" in result.stdout
    assert "situational-leadership" in result.stdout.split("coach>")[2]
