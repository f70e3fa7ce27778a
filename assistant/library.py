"""The library: the corpus and added folders, the index over them, and each person's uploads."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from .corpus import CorpusError, digest, load_corpus, remove_folder, save_upload
from .embeddings import Embedder, kept
from .index import Index, SyncReport
from .playbook import Playbook
from .retrieval import HybridRetriever
from .settings import Settings
from .store import SharedStore
from .types import Document

log = logging.getLogger(__name__)


class Library:
    """Documents in, passages out: ingest, sources, uploads, and the retriever over them."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self.problems: list[str] = []
        self._playbook = Playbook([], embedder)
        self._asked: dict[tuple[str, str], tuple[str, ...]] = {}
        self._index: Index | None = None
        self._retriever: HybridRetriever | None = None
        self._lock = threading.RLock()
        self._synced = False
        # With ASSISTANT_DATABASE_URL, uploads live in the database and a version there says when
        # another process changed the index; without it, uploads are files in the data dir.
        self.store = SharedStore(settings.data_dir / "shared.sqlite3", settings.database_url)
        self._version: str | None = None

    @property
    def index(self) -> Index:
        """The Chroma index, opened and synced with the corpus on first use."""
        if self._index is not None and self._synced:
            return self._index
        with self._lock:
            if self._index is None or not self._synced:
                self.ingest(progress=False)
            assert self._index is not None
            return self._index

    @property
    def playbook(self) -> Playbook:
        """The playbook's cards, read at the sync that opens the library."""
        _ = self.index
        return self._playbook

    @property
    def asked(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """Other ways people ask a question-headed section, by (document id, heading): the
        ``asked`` front matter of a common-questions article."""
        _ = self.index
        return self._asked

    @property
    def retriever(self) -> HybridRetriever:
        _ = self.index  # opens and syncs on first use
        assert self._retriever is not None
        return self._retriever

    def sources(self) -> list[Path]:
        """The corpus folder plus the folders added with ``ingest(path)``."""
        extra = self._sources_file()
        added = json.loads(extra.read_text()) if extra.exists() else []
        return [self.settings.corpus_dir, *(Path(p) for p in added)]

    def ingest(
        self, path: str | Path | None = None, progress: bool | None = None, remove: bool | None = None
    ) -> SyncReport:
        """Sync the index with the corpus; with ``path``, add that folder or file to it first.
        Documents the index has and the corpus lacks are removed, unless ``remove`` is False; by
        default not by an app process that shares its database (and so its index) with others,
        which never removes what another process ingested."""
        remove = not self.store.shared if remove is None else remove
        with self._lock:
            self._open()
            if path is not None:
                self._add_source(Path(path))
            docs, problems = [], []
            seen: set[str] = set()
            for source in self.sources():
                if not source.exists():
                    problems.append(f"skipped {source}: not found")
                    continue
                found, skipped = load_corpus(source)
                problems += skipped
                for doc in found:
                    if doc.doc_id in seen:
                        problems.append(f"skipped {Path(doc.path).name}: id {doc.doc_id!r} is already in the library")
                        continue
                    seen.add(doc.doc_id)
                    docs.append(doc)
            assert self._index is not None and self._retriever is not None
            report = self._index.sync(docs, progress=progress, remove=remove)
            self._refreshed(changed=report.changed, keep=True)
            playbook = Playbook([d for d in docs if d.metadata.get("kind") == "playbook"], self.embedder)
            # Every card line a reply may quote, embedded once and kept with the index: a situation
            # reply then embeds nothing of the card it quotes.
            lines, folder = playbook.lines(), self.settings.data_dir
            playbook.keep_lines(lines, kept(self.embedder, folder, "cards", [x.text for _, x in lines]))
            playbook.keep_descriptions(lambda texts: kept(self.embedder, folder, "card-descriptions", texts))
            self._playbook = playbook
            self._asked = {key: ways for doc in docs for key, ways in asked_in(doc).items()}
            self._synced = True
            self.problems = problems
            return report

    def catch_up(self) -> bool:
        """Reload the retriever when another process changed the index (documents ingested, a
        person's upload added or removed there): one read of a version in the shared database.
        Nothing to do without one. Returns whether it reloaded."""
        if not self.store.shared or self._retriever is None:
            return False
        try:
            version = self.store.get(LIBRARY_VERSION)
        except SQLAlchemyError as exc:  # the database away: answer from what this process has
            log.warning("could not read the library version from the database (%s)", exc.__class__.__name__)
            return False
        if version == self._version:
            return False
        with self._lock:
            self._retriever.refresh()
            self._version = version
        return True

    def _open(self) -> Index:
        """The index and its retriever, opened (not synced)."""
        if self._index is None:
            self._index = Index(self.settings, self.embedder)
            self._retriever = HybridRetriever(
                self._index, self.embedder, self.settings.top_k, self.settings.relevance_floor
            )
        return self._index

    def _refreshed(self, changed: bool = True, keep: bool = False) -> None:
        """After a change to the index: reload the retriever and tell the other processes. With
        ``keep``, the retriever is loaded from (or kept in) the data dir for the library as it is
        now: a start with an unchanged index then reads no record of it."""
        assert self._retriever is not None
        with self._lock:
            self._retriever.refresh(keep=self.settings.data_dir / "retriever" if keep else None)
            if self.store.shared:
                self._version = str(self.store.bump(LIBRARY_VERSION)) if changed else self.store.get(LIBRARY_VERSION)

    def _sources_file(self) -> Path:
        return self.settings.data_dir / "sources.json"

    def _add_source(self, path: Path) -> None:
        path = path.resolve()
        if not path.exists():
            raise FileNotFoundError(f"nothing to ingest at {path}")
        current = [str(p) for p in self.sources()[1:]]
        if str(path) not in current and path != self.settings.corpus_dir.resolve():
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._sources_file().write_text(json.dumps([*current, str(path)], indent=2))

    # ---- a person's own documents --------------------------------------------------------
    def add_upload(self, path: str | Path, owner: str, progress: Any = None) -> Document:
        """Index one file for ``owner`` only; raises ValueError (naming the file) when it can't be used."""
        if not owner:
            raise ValueError("an upload needs an owner (a session or user id)")
        _ = self.index
        try:
            saved = save_upload(Path(path), self._uploads_dir(owner))
        except CorpusError as exc:
            raise ValueError(str(exc)) from None
        if self.store.shared:
            self.store.put(owner, saved.name, saved.read_bytes())
        self._sync_uploads(owner, progress)
        added = [d for d in self.uploads(owner) if d.path == str(saved)]
        if not added:
            raise ValueError(f"{Path(path).name}: saved but could not be read back; please try again")
        return added[0]

    def uploads(self, owner: str) -> list[Document]:
        """The documents ``owner`` has added, with ids of their own."""
        folder = self._uploads_dir(owner)
        if self.store.shared:  # the database has them; this process's folder follows it
            stored = self.store.names(owner)
            for path in folder.glob("*") if folder.exists() else []:
                if path.is_file() and path.name not in stored:
                    path.unlink()
            missing = {name for name in stored if not (folder / name).exists()}
            for name, content in self.store.files(owner, missing).items() if missing else ():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
        docs, _ = load_corpus(folder) if folder.exists() else ([], [])
        return [replace(d, doc_id=f"{upload_prefix(owner)}{Path(d.path).stem}") for d in docs]

    def remove_upload(self, doc_id: str, owner: str) -> None:
        """Drop one of ``owner``'s documents from the index and the disk."""
        for doc in self.uploads(owner):
            if doc.doc_id == doc_id:
                Path(doc.path).unlink(missing_ok=True)
                if self.store.shared:
                    self.store.remove(owner, Path(doc.path).name)
        self._sync_uploads(owner)

    def forget(self, owner: str) -> bool:
        """Drop every document ``owner`` added (when their session ends); nothing to do, and no
        index work, for an owner who added none. Returns whether there was anything to drop."""
        folder = self._uploads_dir(owner)
        stored = self.store.remove(owner) if self.store.shared else 0
        if not folder.exists() and not stored:
            return False
        remove_folder(folder)
        if self._index is not None:
            self._sync_uploads(owner)
        return True

    def clear_uploads(self, before: float | None = None) -> int:
        """Drop every person's uploads, files and index records (at start: a restart ends every
        session, and uploads never outlive their session). Returns how many files were removed.

        With a shared database other processes still serve their sessions, so only uploads stored
        before ``before`` go (the retention policy), with their index records."""
        if self.store.shared:
            removed = self.store.prune(before) if before is not None else 0
            stale = self._indexed_owners() - self.store.owners()
            for owner in stale:
                remove_folder(self._uploads_dir(owner))
                self.index.sync([], owner=owner)
            if stale:
                self._refreshed(keep=True)
            return removed
        files = remove_folder(self.settings.data_dir / "uploads")
        with self._lock:
            # Before the first sync, if it has not run: the retriever then loads the library alone.
            if self._open().drop_uploads() and self._synced:
                self._refreshed(keep=True)
        return files

    def _indexed_owners(self) -> set[str]:
        return {c.owner for c in self.retriever.chunks() if c.owner}

    def _uploads_dir(self, owner: str) -> Path:
        return self.settings.data_dir / "uploads" / owner_key(owner)

    def _sync_uploads(self, owner: str, progress: Any = None) -> None:
        with self._lock:
            self.index.sync(self.uploads(owner), progress=progress, owner=owner)
            self._refreshed()


LIBRARY_VERSION = "library-version"


def upload_prefix(owner: str = "") -> str:
    """How the ids of ``owner``'s uploads begin; of everyone's, without an owner."""
    return f"upload-{owner_key(owner)}-" if owner else "upload-"


def owner_key(owner: str) -> str:
    """The folder and id part of an owner: a digest, so "Alice" and "alice", or any two ids in
    scripts without ASCII letters, never share uploads."""
    return digest(owner)[:20]


def asked_in(doc: Document) -> dict[tuple[str, str], tuple[str, ...]]:
    """The ``asked`` front matter of ``doc`` (heading: [other wordings]), keyed by (doc id,
    heading); headings the text does not have and wordings that are not text are left out."""
    asked = doc.metadata.get("asked")
    if not isinstance(asked, dict):
        return {}
    return {
        (doc.doc_id, heading): tuple(w for w in ways if isinstance(w, str) and w.strip())
        for heading, ways in asked.items()
        if isinstance(heading, str) and isinstance(ways, list) and f"## {heading}\n" in doc.text
    }
