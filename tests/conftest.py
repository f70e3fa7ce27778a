"""Shared fixtures: a real Chroma in a temporary folder and the packaged MiniLM."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assistant import Coach, Settings  # noqa: E402
from eval import serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SOURCE = ROOT.parent / "shared" / "source" / "management-vs-leadership.txt"


# Modules whose every test runs a process, a server or a model server of its own.
PROCESS_MODULES = {"test_app", "test_cli", "test_chroma_server", "test_llm"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow: a test that needs the whole library built (about two minutes on two cores, once per
    run), a process or server of its own, or a browser. ``make test-fast`` leaves these out."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        needs = set(item.fixturenames)
        postgres = getattr(item, "callspec", None) and item.callspec.params.get("database_url") == "postgresql"
        if needs & {"library_dir", "postgres_url"} or postgres or module in PROCESS_MODULES:
            item.add_marker(pytest.mark.slow)
        elif item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server of the test run's own (Debian's package; .ci/run installs it)."""
    with serve.postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url


_databases = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite files in the data dir), then a fresh PostgreSQL database: the same test runs
    against both."""
    if request.param == "sqlite":
        return None
    return fresh_database(request.getfixturevalue("postgres_url"))


def fresh_database(server: str) -> str:
    """The URL of a new, empty database on the PostgreSQL server of ``server`` (a database URL)."""
    from sqlalchemy import create_engine, text

    from assistant.store import check_url

    name = f"test_{next(_databases)}"
    admin = create_engine(check_url(server).rsplit("/", 1)[0] + "/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose index holds the whole corpus (built once per test run)."""
    data = tmp_path_factory.mktemp("library")
    assert Coach(Settings(data_dir=data)).index.count() > 0
    return data


# A dozen documents of the corpus: articles, a common-questions article and the playbook cards
# on approving, checking and redoing the team's work. Built in seconds, unlike the whole library.
SMALL_LIBRARY = [
    "management-vs-leadership.md",
    "grow-model.md",
    "sbi-feedback.md",
    "levels-of-delegation.md",
    "focus-controlling.md",
    "focus-empowering.md",
    "faq/models.md",
    "playbook/approve-everything.md",
    "playbook/checking-everything.md",
    "playbook/redo-team-work.md",
    "playbook/micromanaging-remote.md",
    "playbook/bored-top-performer.md",
]


@pytest.fixture(scope="session")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over SMALL_LIBRARY with its index built (once per test run), for the tests that
    need a Coach but not the whole library."""
    root = tmp_path_factory.mktemp("small")
    for name in SMALL_LIBRARY:
        (root / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / name, root / "corpus" / name)
    settings = Settings(data_dir=root / "data", corpus_dir=root / "corpus")
    assert Coach(settings).index.count() > 0
    return settings


@pytest.fixture(scope="session")
def small_coach(small_library: Settings) -> Coach:
    return Coach(small_library)


@pytest.fixture(scope="session")
def coach(library_dir: Path) -> Coach:
    """A Coach over the full corpus, sharing the session's index."""
    return Coach(Settings(data_dir=library_dir))


@pytest.fixture
def data_copy(library_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the built index, for a process of its own."""
    target = tmp_path / "data"
    shutil.copytree(library_dir, target)
    return target


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Three real corpus documents in a folder of their own."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("management-vs-leadership.md", "grow-model.md", "sbi-feedback.md"):
        shutil.copy(CORPUS / name, folder / name)
    return folder


@contextmanager
def running_app(data: Path, port: int | None = None, **env: str) -> Iterator[str]:
    """``python app.py`` in its own process on a loopback port (a free one unless given); yields its URL."""
    with serve.running_app(data, port=port, **env) as (url, _):
        yield url


def pdf_bytes(text: str) -> bytes:
    """A minimal one-page PDF with ``text`` in Helvetica."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
