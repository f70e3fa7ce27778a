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


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose index holds the whole corpus (built once per test run)."""
    data = tmp_path_factory.mktemp("library")
    assert Coach(Settings(data_dir=data)).index.count() > 0
    return data


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
def running_app(data: Path, **env: str) -> Iterator[str]:
    """``python app.py`` in its own process on a free loopback port; yields its URL."""
    with serve.running_app(data, **env) as (url, _):
        yield url
