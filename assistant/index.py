"""Chroma index of chunks and their sentences, synced to the corpus by content hash.

Embedded ``PersistentClient`` under the data dir by default; a Chroma server when a URL
is set. Each record carries its document's version hash and how many records that version
has, so an interrupted sync is detected (wrong count or mixed hashes) and finished next time.

A third collection, the manifest, holds one record per document (owner, version, how many
chunks and sentences, whether it is complete): a start reads it instead of every record's
metadata. It is trusted only when its counts add up to the two collections' counts; otherwise
(missing, an interrupted sync, records written by another path) the full scan runs and writes
it again.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from .chunking import chunk_document, chunk_sentences
from .embeddings import MODEL_NAME, Embedder, chroma_embedding_function
from .settings import Settings
from .types import Chunk, Document, Sentence

log = logging.getLogger(__name__)

# Bump when chunking changes, so unchanged files are re-chunked once.
PIPELINE_VERSION = "chunks-v4"  # v2: unquotable lines not stored as sentences; v3: list items kept whole;
# v4: sentences that say nothing are not quotable
_PAGE = 2000
EMBED_GROUP = 1024


@dataclass(frozen=True)
class SyncReport:
    """What one sync did."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: list[str]
    records_written: int
    records_deleted: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def version_hash(doc: Document) -> str:
    return hashlib.sha256(f"{doc.content_hash}|{PIPELINE_VERSION}|{MODEL_NAME}".encode()).hexdigest()[:32]


def make_client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"ASSISTANT_CHROMA_URL must look like http://host:port, got {settings.chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)


class Index:
    """Chunks and sentences in two Chroma collections, always with our embedding function."""

    def __init__(self, settings: Settings, embedder: Embedder, client: Any | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.client = client if client is not None else make_client(settings)
        function = chroma_embedding_function(embedder)
        meta = {"hnsw:space": "cosine"}
        self.chunks = self.client.get_or_create_collection(
            f"{settings.collection}-chunks", embedding_function=function, metadata=meta
        )
        self.sentences = self.client.get_or_create_collection(
            f"{settings.collection}-sentences", embedding_function=function, metadata=meta
        )
        # No embedding of its own: each entry carries a constant one-number vector.
        self.manifest = self.client.get_or_create_collection(f"{settings.collection}-manifest", embedding_function=None)

    def drop_uploads(self) -> int:
        """Delete every record a person uploaded (owner other than the library's ""); how many chunks."""
        where = {"owner": {"$ne": ""}}
        dropped = len(self.chunks.get(where=where, include=[])["ids"])
        for collection in (self.chunks, self.sentences, self.manifest):
            collection.delete(where=where)
        return dropped

    # ---- sync -------------------------------------------------------------------------
    def sync(
        self, docs: list[Document], progress: bool | None = None, owner: str = "", remove: bool = True
    ) -> SyncReport:
        """Make ``owner``'s part of the index match ``docs``: skip unchanged, replace changed,
        delete removed (unless ``remove`` is False). The library is owner ""; a person's uploads
        are theirs alone."""
        state = self._state(owner)
        wanted = {doc.doc_id: doc for doc in docs}
        added, updated, unchanged, todo = [], [], [], []
        for doc in docs:
            version = version_hash(doc)
            if all(_complete(state[k].get(doc.doc_id), version) for k in state):
                unchanged.append(doc.doc_id)
                continue
            (updated if any(doc.doc_id in state[k] for k in state) else added).append(doc.doc_id)
            todo.append(doc)
        removed = sorted({d for k in state for d in state[k]} - wanted.keys()) if remove else []

        plans = [(doc, *self._records(doc, owner)) for doc in todo]
        total = sum(len(chunks) + len(sentences) for _, chunks, sentences in plans)
        written = deleted = 0
        with _progress(total, progress) as bar:
            for group in _groups(plans, EMBED_GROUP):
                # Embed a few documents' records together (far faster than small batches),
                # then write each document's new version before dropping what it replaced:
                # a crash in between leaves both, which still answers and is cleaned next sync.
                records = [r for _, chunks, sentences in group for r in chunks + sentences]
                for record, vector in zip(records, self.embedder.embed([r["embed"] for r in records], bulk=True)):
                    record["vector"] = vector
                for doc, chunks, sentences in group:
                    written += self._write(self.chunks, chunks)
                    written += self._write(self.sentences, sentences)
                    deleted += self._delete_stale(doc.doc_id, {c["id"] for c in chunks}, self.chunks)
                    deleted += self._delete_stale(doc.doc_id, {s["id"] for s in sentences}, self.sentences)
                bar.update(len(records))
        for doc_id in removed:
            deleted += self._delete_stale(doc_id, set(), self.chunks)
            deleted += self._delete_stale(doc_id, set(), self.sentences)
        if todo or removed:
            counts = {doc.doc_id: (version_hash(doc), len(c), len(s)) for doc, c, s in plans}
            self._write_manifest(owner, counts, removed)
        return SyncReport(added, updated, removed, unchanged, written, deleted)

    # ---- the manifest -------------------------------------------------------------------
    def _state(self, owner: str) -> dict[str, dict[str, dict[str, Any]]]:
        """What ``owner``'s part of the index holds, per collection ("c", "s"): doc_id ->
        {"versions": {version: records}, "counts": {declared counts}}, from the manifest when its
        counts agree with the collections', from a full scan (which writes it again) otherwise."""
        entries = self.entries()
        if entries is not None:
            mine = [e for e in entries.values() if e["owner"] == owner]
            # An incomplete document (mixed versions, a wrong count) reads as incomplete again.
            return {
                k: {
                    e["doc_id"]: {"versions": {e["version"]: e[k]}, "counts": {e[k] if e["complete"] else -1}}
                    for e in mine
                }
                for k in "cs"
            }
        scanned: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: {"c": {}, "s": {}})
        for key, collection in (("c", self.chunks), ("s", self.sentences)):
            for _, meta in self._scan(collection):
                docs = scanned[meta.get("owner", "")][key]
                entry = docs.setdefault(meta["doc_id"], {"versions": defaultdict(int), "counts": set()})
                entry["versions"][meta["version"]] += 1
                entry["counts"].add(meta["count"])
        # The manifest again: every document, with how many records it has and whether it is
        # complete (one version, the declared count), so that the counts add up.
        entries = {}
        for who, state in scanned.items():
            for doc_id in state["c"].keys() | state["s"].keys():
                found = [state[k].get(doc_id) for k in "cs"]
                versions = {v for f in found if f for v in f["versions"]}
                version = next(iter(versions)) if len(versions) == 1 else ""
                empty = {"versions": {version: 0}, "counts": {0}}
                complete = bool(version) and all(_complete(f or empty, version) for f in found)
                c, s = (sum(f["versions"].values()) if f else 0 for f in found)
                entry = {"owner": who, "doc_id": doc_id, "version": version, "c": c, "s": s, "complete": complete}
                entries[_entry_id(who, doc_id)] = entry
        self.manifest.delete(ids=self.manifest.get(include=[])["ids"] or ["-"])
        self._put_entries(entries)
        return {k: dict(v) for k, v in scanned.get(owner, {"c": {}, "s": {}}).items()}

    def entries(self) -> dict[str, dict[str, Any]] | None:
        """The manifest (entry id -> owner, doc_id, version, c and s counts), or None when it is
        missing or does not add up to what the collections hold."""
        page = self.manifest.get(include=["metadatas"])
        entries = dict(zip(page["ids"], page["metadatas"]))
        chunks, sentences = self.chunks.count(), self.sentences.count()
        if sum(e["c"] for e in entries.values()) != chunks or sum(e["s"] for e in entries.values()) != sentences:
            return None
        return entries

    def content_key(self) -> str | None:
        """A digest of what the index holds (every document's version, by owner), or None when
        the manifest cannot say: what a cache of the retriever is keyed by."""
        entries = self.entries()
        if entries is None:
            return None
        rows = sorted(f"{e['owner']}|{e['doc_id']}|{e['version']}|{e['c']}|{e['s']}" for e in entries.values())
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:24]

    def _write_manifest(self, owner: str, counts: dict[str, tuple[str, int, int]], removed: list[str]) -> None:
        if removed:
            self.manifest.delete(ids=[_entry_id(owner, d) for d in removed])
        entries = {
            _entry_id(owner, doc_id): {"owner": owner, "doc_id": doc_id, "version": v, "c": c, "s": s, "complete": True}
            for doc_id, (v, c, s) in counts.items()
        }
        self._put_entries(entries)

    def _put_entries(self, entries: dict[str, dict[str, Any]]) -> None:
        ids = list(entries)
        step = self.client.get_max_batch_size()
        for i in range(0, len(ids), step):
            batch = ids[i : i + step]
            self.manifest.upsert(ids=batch, metadatas=[entries[k] for k in batch], embeddings=[[1.0]] * len(batch))

    def _records(self, doc: Document, owner: str) -> tuple[list[dict], list[dict]]:
        version = version_hash(doc)
        chunks = chunk_document(doc)
        sentences = [s for chunk in chunks for s in chunk_sentences(doc.text, chunk)]
        base = {"doc_id": doc.doc_id, "version": version, "title": doc.title, "path": doc.path, "owner": owner}
        chunk_records = [
            {
                "id": c.chunk_id,
                "text": c.text,
                "embed": f"{doc.title}. {c.section}. {c.text}",
                "meta": {**base, "count": len(chunks), "section": c.section, "start": c.start, "end": c.end},
            }
            for c in chunks
        ]
        sentence_records = [
            {
                "id": s.sentence_id,
                "text": s.text,
                "embed": s.text,
                "meta": {**base, "count": len(sentences), "chunk_id": s.chunk_id, "start": s.start, "end": s.end},
            }
            for s in sentences
        ]
        return chunk_records, sentence_records

    def _write(self, collection: Any, records: list[dict]) -> int:
        step = self.client.get_max_batch_size()
        for i in range(0, len(records), step):
            batch = records[i : i + step]
            collection.upsert(
                ids=[r["id"] for r in batch],
                documents=[r["text"] for r in batch],
                metadatas=[r["meta"] for r in batch],
                embeddings=np.stack([r["vector"] for r in batch]),
            )
        return len(records)

    def _delete_stale(self, doc_id: str, keep: set[str], collection: Any) -> int:
        ids = [rid for rid, _ in self._scan(collection, where={"doc_id": doc_id}) if rid not in keep]
        for i in range(0, len(ids), _PAGE):
            collection.delete(ids=ids[i : i + _PAGE])
        return len(ids)

    def _scan(self, collection: Any, where: dict | None = None) -> Iterator[tuple[str, dict]]:
        offset = 0
        while True:
            page = collection.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
            yield from zip(page["ids"], page["metadatas"])
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    # ---- reads ------------------------------------------------------------------------
    def count(self) -> int:
        return self.chunks.count()

    def all_chunks(self) -> list[Chunk]:
        out: list[Chunk] = []
        offset = 0
        while True:
            page = self.chunks.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            out.extend(_chunk(i, t, m) for i, t, m in zip(page["ids"], page["documents"], page["metadatas"]))
            if len(page["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def dense(self, vector: np.ndarray, n: int, owner: str = "") -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the n nearest chunks that ``owner`` may see."""
        return [(cid, similarity) for cid, similarity, _ in _nearest(self.chunks, vector, n, owner)]

    def dense_sentences(self, vector: np.ndarray, n: int, owner: str = "") -> list[tuple[str, float]]:
        """(chunk id, cosine similarity of its best sentence) for the n nearest sentences."""
        best: dict[str, float] = {}
        for _, similarity, meta in _nearest(self.sentences, vector, n, owner):
            best.setdefault(meta["chunk_id"], similarity)
        return list(best.items())

    def chunk_vectors(self, chunk_ids: Iterable[str]) -> dict[str, np.ndarray]:
        ids = list(chunk_ids)
        if not ids:
            return {}
        page = self.chunks.get(ids=ids, include=["embeddings"])
        return {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(page["ids"], page["embeddings"])}

    def sentences_of(self, chunk_ids: Iterable[str]) -> list[tuple[Sentence, np.ndarray]]:
        ids = list(chunk_ids)
        if not ids:
            return []
        page = self.sentences.get(where={"chunk_id": {"$in": ids}}, include=["documents", "metadatas", "embeddings"])
        return [
            (
                Sentence(sid, m["chunk_id"], m["doc_id"], text, int(m["start"]), int(m["end"])),
                np.asarray(vec, dtype=np.float32),
            )
            for sid, text, m, vec in zip(page["ids"], page["documents"], page["metadatas"], page["embeddings"])
        ]


def visible_to(owner: str) -> dict:
    """A Chroma filter: the library, plus ``owner``'s own documents."""
    return {"owner": {"$in": ["", owner]}} if owner else {"owner": ""}


def _nearest(collection: Any, vector: np.ndarray, n: int, owner: str) -> list[tuple[str, float, dict]]:
    """(id, cosine similarity, metadata) of the n nearest records that ``owner`` may see.

    A where filter makes Chroma match it against every record's metadata before the search:
    at 84,000 chunks a query took 0.6-1 s with it and 3-10 ms without (python -m eval.scale).
    The filter only keeps other people's uploads out, and those are few, so ask for twice as
    many without it and drop what ``owner`` may not see: when n remain they are exactly the n
    nearest visible ones. Only when too few remain is the filtered query run.
    """
    total = collection.count()
    if total == 0:
        return []
    wanted = min(2 * n, total)
    result = collection.query(query_embeddings=[vector], n_results=wanted, include=["distances", "metadatas"])
    rows = zip(result["ids"][0], result["distances"][0], result["metadatas"][0])
    visible = [(rid, 1.0 - float(d), meta) for rid, d, meta in rows if meta.get("owner", "") in ("", owner)]
    if len(visible) >= n or wanted == total:
        return visible[:n]
    result = collection.query(
        query_embeddings=[vector], n_results=min(n, total), include=["distances", "metadatas"], where=visible_to(owner)
    )
    rows = zip(result["ids"][0], result["distances"][0], result["metadatas"][0])
    return [(rid, 1.0 - float(d), meta) for rid, d, meta in rows]


def _groups(plans: list, size: int) -> Iterator[list]:
    """Consecutive plans whose records add up to about ``size``."""
    group: list = []
    count = 0
    for plan in plans:
        group.append(plan)
        count += len(plan[1]) + len(plan[2])
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


def _entry_id(owner: str, doc_id: str) -> str:
    return hashlib.sha256(f"{owner}\x1f{doc_id}".encode()).hexdigest()[:32]


def _complete(entry: dict[str, Any] | None, version: str) -> bool:
    if not entry or set(entry["versions"]) != {version}:
        return False
    return entry["counts"] == {entry["versions"][version]}


def _chunk(chunk_id: str, text: str, meta: dict) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        title=meta["title"],
        section=meta["section"],
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        doc_hash=meta["version"],
        owner=meta.get("owner", ""),
    )


class _progress:
    """A tqdm bar on a terminal, nothing elsewhere."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if self.enabled and self.total:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc="indexing", unit="rec")
        return self

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
