"""The page in a real headless Chromium (Debian's), driven by Playwright.

Screenshots of each step land in tests/artifacts/.
"""

import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, running_app

from eval import serve

pytestmark = pytest.mark.browser
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (make browser)", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="module")
def app(library_dir, tmp_path_factory):
    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(library_dir, data)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_app(data) as url:
        yield url, data


def _ask(page, text: str) -> None:
    before = page.locator("[data-testid=bot]").count()
    page.locator("textarea").first.fill(text)
    page.locator("textarea").first.press("Enter")
    page.wait_for_function("n => document.querySelectorAll('[data-testid=bot]').length > n", arg=before, timeout=60_000)
    # the reply streams in; it is complete once the page has no pending event
    page.wait_for_function("() => !document.querySelector('.progress-text, .eta-bar')", timeout=60_000)
    page.wait_for_timeout(500)


def _committed(path: Path, words: str) -> bool:
    """Whether the memory file holds a commitment with these words."""
    import sqlite3

    if not path.exists():
        return False
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT text FROM commitments").fetchall()
    return any(words in text for (text,) in rows)


def _wait_until_committed(path: Path, words: str) -> None:
    """The commitment is stored when the reply's stream ends, which on a busy machine can come
    after the page looks settled."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _committed(path, words):
        time.sleep(0.5)


def _wait_for_browser_id(page) -> None:
    """The page gives the browser its id as it loads; a message sent before that is remembered
    under the connection's id instead, which no later page load can find."""
    page.wait_for_function("() => localStorage.getItem('leadership-coach-user') !== null", timeout=30_000)


def _last_reply(page) -> str:
    """The newest reply's text (not the sources box that may follow it)."""
    texts = page.locator("[data-testid=bot]").all_inner_texts()
    return next(t for t in reversed(texts) if not t.strip().startswith("Sources ("))


def _open(page, url: str, width: int = 1280):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url)
    page.locator("textarea").first.wait_for(timeout=60_000)


def test_ask_and_see_a_cited_answer_then_open_its_source(app, page):
    url, _ = app
    _open(page, url)
    _ask(page, "What do managers focus on?")
    bot = page.locator("[data-testid=bot]").first
    assert "[1]" in bot.inner_text()
    page.screenshot(path=ARTIFACTS / "1-cited-answer.png", full_page=True)
    page.locator("[data-testid=bot] a[href='#source-1-1']").first.click()
    card = page.locator("#source-1-1")
    assert card.get_attribute("open") is not None
    mark = card.locator("mark")
    assert mark.is_visible() and len(mark.inner_text()) > 20
    page.screenshot(path=ARTIFACTS / "2-source-highlighted.png", full_page=True)


def test_a_situation_shows_the_diagnosis(app, page):
    url, _ = app
    _open(page, url)
    _ask(page, "I spent my week approving expenses and checking timesheets. Am I managing or leading?")
    page.get_by_role("tab", name="Diagnosis").click()
    panel = page.locator("#diagnosis-panel")
    assert "Leans to managing" in panel.inner_text()
    assert "administering" in panel.inner_text()
    page.screenshot(path=ARTIFACTS / "3-diagnosis.png", full_page=True)


def test_upload_a_file_and_get_an_answer_citing_it(app, page, tmp_path):
    url, _ = app
    notes = tmp_path / "fernbrook-rota.txt"
    notes.write_text("At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8")
    _open(page, url)
    page.get_by_role("tab", name="Your documents").click()
    page.locator("input[type=file]").first.set_input_files(str(notes))
    page.get_by_text("Added fernbrook-rota.txt", exact=False).wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS / "4-uploaded.png", full_page=True)
    _ask(page, "Who decides the rota at Fernbrook Dairy?")
    page.get_by_role("tab", name="Sources").click()
    assert "fernbrook" in page.locator("#sources-panel").inner_text().lower()
    page.screenshot(path=ARTIFACTS / "5-answer-cites-upload.png", full_page=True)


def test_quoted_images_and_links_are_shown_as_text_and_fetch_nothing(app, page, tmp_path):
    url, _ = app
    fetched: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            fetched.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    outside = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=outside.serve_forever, daemon=True).start()
    host = f"http://127.0.0.1:{outside.server_address[1]}"
    notes = tmp_path / "quillmere-rows.md"
    notes.write_text(
        f"At Quillmere Farm the pickers ![badge]({host}/pixel.png) choose their own rows each morning, "
        f"as the [farm guide]({host}/guide) and {host}/raw explain.\n",
        encoding="utf-8",
    )
    try:
        _open(page, url)
        page.get_by_role("tab", name="Your documents").click()
        page.locator("input[type=file]").first.set_input_files(str(notes))
        page.get_by_text("Added quillmere-rows.md", exact=False).wait_for(timeout=60_000)
        _ask(page, "Who chooses the rows at Quillmere Farm?")
        page.get_by_role("tab", name="Sources").click()
        page.wait_for_timeout(1500)
        chat = page.locator("[data-testid=bot]").last.inner_text() + _last_reply(page)
        assert "![badge]" in chat and "pixel.png" in chat  # shown as text
        assert page.locator(f'img[src^="{host}"]').count() == 0 and page.locator(f'a[href^="{host}"]').count() == 0
        assert fetched == []
    finally:
        outside.shutdown()


def test_bad_upload_gets_a_clear_message(app, page, tmp_path):
    url, _ = app
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Caf\xe9".encode("latin-1"))
    _open(page, url)
    page.get_by_role("tab", name="Your documents").click()
    page.locator("input[type=file]").first.set_input_files(str(bad))
    page.get_by_text("Not added: latin1.txt: not UTF-8 text").wait_for(timeout=30_000)


def test_feedback_is_stored_and_exported(app, page):
    url, data = app
    _open(page, url)
    _ask(page, "How did John Maxwell define leadership?")
    page.locator("[data-testid=bot]").first.hover()
    page.get_by_label("Like", exact=True).first.click()
    page.get_by_text("your feedback is saved").wait_for(timeout=15_000)
    page.screenshot(path=ARTIFACTS / "6-feedback.png", full_page=True)
    out = subprocess.run(
        [sys.executable, "-m", "assistant", "feedback", "--export"],
        cwd=ROOT,
        env={"ASSISTANT_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert any(r["question"] == "How did John Maxwell define leadership?" and r["rating"] == "up" for r in records)
    assert all(r["citations"] for r in records)


def test_two_sessions_stay_apart(app, browser, tmp_path):
    url, _ = app
    secret = tmp_path / "alder-plan.txt"
    secret.write_text("The Alder Street team will move to four-day weeks in March.", encoding="utf-8")
    first, second = browser.new_context(), browser.new_context()
    a, b = first.new_page(), second.new_page()
    _open(a, url)
    _open(b, url)
    a.get_by_role("tab", name="Your documents").click()
    a.locator("input[type=file]").first.set_input_files(str(secret))
    a.get_by_text("Added alder-plan.txt", exact=False).wait_for(timeout=60_000)
    _ask(a, "When will the Alder Street team move to four-day weeks?")
    _ask(b, "What is the GROW model?")
    a_text, b_text = (
        a.locator("[data-testid=user]").all_inner_texts(),
        b.locator("[data-testid=user]").all_inner_texts(),
    )
    assert any("Alder Street" in t for t in a_text) and not any("Alder Street" in t for t in b_text)
    assert not any("GROW" in t for t in a_text)
    _ask(b, "When will the Alder Street team move to four-day weeks?")
    assert "alder" not in b.locator("#sources-panel").inner_text().lower()
    b.screenshot(path=ARTIFACTS / "7-second-session.png", full_page=True)
    first.close()
    second.close()


def test_usable_on_a_375px_screen(app, page):
    url, _ = app
    _open(page, url, width=375)
    box = page.get_by_label("Your message")
    assert box.is_visible()
    assert box.bounding_box()["width"] <= 375
    _ask(page, "What is psychological safety?")
    assert "[1]" in page.locator("[data-testid=bot]").first.inner_text()
    page.screenshot(path=ARTIFACTS / "8-narrow.png", full_page=True)


def test_last_times_commitments_are_offered_on_return(app, page):
    url, data = app
    _open(page, url)
    _wait_for_browser_id(page)
    _ask(page, "This week I will let Priya run the stand-up.")
    assert "Noted your commitment" in page.locator("[data-testid=bot]").first.inner_text()
    _wait_until_committed(data / "memory.sqlite3", "run the stand-up")
    page.reload()  # the same browser comes back
    page.locator("textarea").first.wait_for(timeout=60_000)
    banner = page.locator("#last-time")
    banner.wait_for(timeout=30_000)
    assert "let Priya run the stand-up" in banner.inner_text()
    page.get_by_role("button", name="Pick up where we left off").click()
    page.wait_for_function("() => document.querySelector('textarea').value.includes('Priya')", timeout=15_000)
    page.screenshot(path=ARTIFACTS / "9-pick-up.png", full_page=True)


def test_commitments_are_offered_after_the_app_restarts(library_dir, tmp_path, page):
    data = tmp_path / "data"
    shutil.copytree(library_dir, data)
    port = serve.free_port()  # the same origin, so the browser keeps what the page stored
    with running_app(data, port=port) as url:
        _open(page, url)
        _wait_for_browser_id(page)
        _ask(page, "This week I will let Priya chair the retro.")
        _wait_until_committed(data / "memory.sqlite3", "Priya")  # before the app stops
    with running_app(data, port=port) as url:
        _open(page, url)
        banner = page.locator("#last-time")
        banner.wait_for(timeout=30_000)
        assert "let Priya chair the retro" in banner.inner_text()
    secret = data / "browser-secret"
    assert secret.stat().st_mode & 0o077 == 0 and secret.read_text() not in (data / "app.log").read_text()


def test_a_follow_up_and_a_commitment_are_read_against_the_conversation(app, page):
    url, _ = app
    _open(page, url)
    _ask(page, "I spent my week approving expenses and checking timesheets. Am I managing or leading?")
    _ask(page, "What could I do instead?")
    follow_up = _last_reply(page)
    assert "couldn't find anything" not in follow_up
    assert "[1]" in follow_up
    page.screenshot(path=ARTIFACTS / "10-follow-up.png", full_page=True)
    _ask(page, "This week I will let Priya approve the small expenses.")
    last = _last_reply(page)
    assert "Priya" in last or "commitment" in last.lower()
    page.screenshot(path=ARTIFACTS / "11-commitment.png", full_page=True)


def test_export_holds_every_turn_and_early_markers_still_open(app, page):
    url, _ = app
    _open(page, url)
    questions = ["What do managers focus on?", "How does the GROW model work?", "What is psychological safety?"]
    for question in questions:
        _ask(page, question)
    with page.expect_download(timeout=30_000) as download:
        page.locator("#export").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert all(question in text for question in questions)
    # A marker of the first reply opens the first reply's passage, though two replies came after.
    page.locator("[data-testid=bot] a[href='#source-1-1']").first.click()
    card = page.locator("#source-1-1")
    assert card.get_attribute("open") is not None and card.is_visible()


@pytest.mark.parametrize("width", [1280, 375])
def test_screenshots_of_a_diagnosis_and_an_open_source(app, page, width):
    url, _ = app
    _open(page, url, width=width)
    _ask(page, "I rewrite every report my team sends me before it goes to the director.")
    page.get_by_role("tab", name="Diagnosis").click()
    panel = page.locator("#diagnosis-panel")
    panel.scroll_into_view_if_needed()
    label = panel.locator(".shares")
    assert label.bounding_box()["width"] <= width
    page.screenshot(path=ARTIFACTS / f"12-diagnosis-{width}.png", full_page=True)
    page.locator("[data-testid=bot] a[href='#source-1-1']").first.click()
    page.locator("#source-1-1").scroll_into_view_if_needed()
    assert page.locator("#source-1-1").is_visible()
    page.screenshot(path=ARTIFACTS / f"13-source-{width}.png", full_page=True)


def test_a_greeting_is_greeted_and_a_crisis_gets_the_safety_reply_only(app, page):
    url, _ = app
    _open(page, url)
    _ask(page, "hello")
    greeting = _last_reply(page)
    assert "leadership coach" in greeting and "[1]" not in greeting
    _open(page, url)  # a fresh conversation
    _ask(page, "One of my reports told me today she has a plan to end her life this weekend.")
    reply = _last_reply(page)
    assert "emergency" in reply and "crisis line" in reply and "[1]" not in reply
    assert "someone you're responsible for may be at risk" in reply  # the opening that fits what was said
    assert "No sources yet" in page.locator("#sources-panel").inner_text()
    page.get_by_role("tab", name="Diagnosis").click()
    assert "Describe a situation" in page.locator("#diagnosis-panel").inner_text()
    page.screenshot(path=ARTIFACTS / "14-safety.png", full_page=True)


def test_hyperbole_read_as_a_crisis_says_so_and_the_next_message_is_coached(app, page):
    url, _ = app
    _open(page, url)
    _ask(page, "night shift is murdering me")
    first = _last_reply(page)
    assert "[1]" in first or "misread" in first  # coached, or a safety reply that says it may have misread
    _ask(page, "no, I'm fine, it's just the workload. two nurses are off sick and I can't cover the rota")
    assert "[1]" in _last_reply(page) and "crisis line" not in _last_reply(page)


@pytest.fixture(scope="module")
def team(small_library, postgres_url, tmp_path_factory):
    """Two app processes with data dirs of their own, on one Chroma server and one PostgreSQL."""
    from conftest import fresh_database

    from assistant import Coach, Settings
    from eval.scale import chroma_server

    root = tmp_path_factory.mktemp("team")
    database = fresh_database(postgres_url)
    with chroma_server(root / "chroma") as (chroma, _):
        corpus = small_library.corpus_dir
        Coach(Settings(data_dir=root / "ingest", corpus_dir=corpus, chroma_url=chroma, database_url=database)).ingest()
        env = {"ASSISTANT_CHROMA_URL": chroma, "ASSISTANT_DATABASE_URL": database, "ASSISTANT_CORPUS_DIR": str(corpus)}
        (root / "a").mkdir()
        (root / "b").mkdir()
        with running_app(root / "a", **env) as a, running_app(root / "b", **env) as b:
            yield a, b, database


def _like_the_last_reply(page) -> None:
    page.locator("[data-testid=bot]").last.hover()
    page.get_by_label("Like", exact=True).last.click()
    page.get_by_text("your feedback is saved").last.wait_for(timeout=15_000)


def test_two_app_processes_serve_one_person_from_one_database(team, page, tmp_path):
    """Behind a proxy both processes are one origin: the browser's stored id (signed with the key
    both read from the database) reaches either. Here it is carried from one port to the other."""
    from gradio_client import Client, handle_file
    from sqlalchemy import select

    from assistant.feedback import FeedbackStore
    from assistant.store import check_url, commitments, engine

    a, b, database = team
    _open(page, a)
    _wait_for_browser_id(page)
    _ask(page, "This week I will let Priya run the stand-up.")
    _like_the_last_reply(page)
    deadline = time.monotonic() + 60
    url = check_url(database)
    while time.monotonic() < deadline:
        with engine(url).connect() as db:
            if any("Priya" in t for t in db.execute(select(commitments.c.text)).scalars()):
                break
        time.sleep(0.5)
    stored = page.evaluate("() => localStorage.getItem('leadership-coach-user')")
    assert stored
    # B's origin starts out holding A's stored id, as one origin behind a proxy would (set before
    # the page's own scripts run, so B never hands out an id of its own).
    origin = b.rstrip("/")
    script = f"localStorage.setItem('leadership-coach-user', {json.dumps(stored)})"
    page.add_init_script(f"if (location.origin === {json.dumps(origin)}) {script};")
    _open(page, b)
    banner = page.locator("#last-time")
    banner.wait_for(timeout=30_000)
    assert "let Priya run the stand-up" in banner.inner_text()  # offered by the other process
    _ask(page, "What is the GROW model?")
    _like_the_last_reply(page)
    page.screenshot(path=ARTIFACTS / "15-second-process.png", full_page=True)
    records = list(FeedbackStore(tmp_path / "unused.sqlite3", database).records())
    assert {r["question"] for r in records} == {
        "This week I will let Priya run the stand-up.",
        "What is the GROW model?",
    }

    # One session's upload through A, answered by B after a failover of that session.
    notes = tmp_path / "fernbrook-rota.txt"
    notes.write_text("At Fernbrook Dairy the night shift decides its own rota every Friday.", encoding="utf-8")
    through_a = Client(a, verbose=False)
    through_a.session_hash = "failed-over-session"
    through_a.predict([handle_file(str(notes))], api_name="/upload")
    question = "Who decides the rota at Fernbrook Dairy?"
    through_b = Client(b, verbose=False)
    through_b.session_hash = "failed-over-session"
    _, _, sources, _, _ = through_b.predict(question, [], 5, True, api_name="/chat")
    assert "Fernbrook" in sources
    _, _, others, _, _ = Client(b, verbose=False).predict(question, [], 5, True, api_name="/chat")
    assert "Fernbrook" not in others
