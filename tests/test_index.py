from pathlib import Path

from assistant import Settings
from assistant.corpus import load_corpus
from assistant.embeddings import Embedder
from assistant.index import Index

EMBEDDER = Embedder()


def _index(data: Path) -> Index:
    return Index(Settings(data_dir=data), EMBEDDER)


def test_reingest_of_an_unchanged_corpus_adds_and_deletes_nothing(small_corpus: Path, tmp_path: Path):
    docs, _ = load_corpus(small_corpus)
    first = _index(tmp_path / "d").sync(docs)
    assert sorted(first.added) == sorted(d.doc_id for d in docs) and first.records_written > 0
    before = _index(tmp_path / "d").chunks.get()["ids"]
    again = _index(tmp_path / "d").sync(load_corpus(small_corpus)[0])  # a new client, as after a restart
    assert again.records_written == 0 and again.records_deleted == 0
    assert sorted(again.unchanged) == sorted(d.doc_id for d in docs) and not again.changed
    assert sorted(_index(tmp_path / "d").chunks.get()["ids"]) == sorted(before)


def test_changed_document_is_replaced_and_removed_one_deleted(small_corpus: Path, tmp_path: Path):
    index = _index(tmp_path / "d")
    index.sync(load_corpus(small_corpus)[0])
    grow = small_corpus / "grow-model.md"
    grow.write_text(grow.read_text().replace("four-stage", "four-step"), encoding="utf-8")
    (small_corpus / "sbi-feedback.md").unlink()
    report = index.sync(load_corpus(small_corpus)[0])
    assert report.updated == ["grow-model"] and report.removed == ["sbi-feedback"]
    assert report.unchanged == ["management-vs-leadership"]
    texts = index.chunks.get(where={"doc_id": "grow-model"})["documents"]
    assert any("four-step" in t for t in texts) and not any("four-stage" in t for t in texts)
    assert index.chunks.get(where={"doc_id": "sbi-feedback"})["ids"] == []
    assert index.sentences.get(where={"doc_id": "sbi-feedback"})["ids"] == []
    # one version per document, no orphans
    for meta in index.chunks.get(include=["metadatas"])["metadatas"]:
        assert meta["doc_id"] in {"grow-model", "management-vs-leadership"}


def test_an_interrupted_sync_is_finished_next_time(small_corpus: Path, tmp_path: Path):
    index = _index(tmp_path / "d")
    docs = load_corpus(small_corpus)[0]
    index.sync(docs)
    full = sorted(index.chunks.get(where={"doc_id": "grow-model"})["ids"])
    index.chunks.delete(ids=full[:2])  # as if the process died while writing this document
    report = index.sync(docs)
    assert report.updated == ["grow-model"]
    assert sorted(index.chunks.get(where={"doc_id": "grow-model"})["ids"]) == full


def test_collections_keep_our_embedding_function(small_corpus: Path, tmp_path: Path):
    index = _index(tmp_path / "d")
    index.sync(load_corpus(small_corpus)[0])
    # Chroma embeds a text query with the function we passed: 384 dimensions, our model.
    result = index.chunks.query(query_texts=["What is the GROW model?"], n_results=1)
    assert result["metadatas"][0][0]["doc_id"] == "grow-model"


def test_a_start_reads_the_manifest_and_scans_only_when_it_does_not_add_up(small_corpus: Path, tmp_path: Path):
    docs, _ = load_corpus(small_corpus)
    index = _index(tmp_path / "d")
    index.sync(docs)
    entries = index.entries()
    assert entries is not None and {e["doc_id"] for e in entries.values()} == {d.doc_id for d in docs}
    assert sum(e["c"] for e in entries.values()) == index.chunks.count()
    scans = []
    real_scan = Index._scan
    Index._scan = lambda self, *a, **k: scans.append(1) or real_scan(self, *a, **k)  # count full scans
    try:
        assert not _index(tmp_path / "d").sync(docs).changed and scans == []  # unchanged: no record read
        # A chunk written by another path (or an interrupted sync): the counts no longer add up.
        extra = index.chunks.get(limit=1, include=["documents", "metadatas", "embeddings"])
        index.chunks.add(
            ids=["stray"], documents=extra["documents"], metadatas=extra["metadatas"], embeddings=extra["embeddings"]
        )
        assert _index(tmp_path / "d").entries() is None
        report = _index(tmp_path / "d").sync(docs)  # the full scan, which finds the stray and mends it
        assert scans and report.updated and index.entries() is not None
        assert index.chunks.get(ids=["stray"])["ids"] == []
    finally:
        Index._scan = real_scan


def test_a_start_loads_the_kept_retriever_and_answers_the_same(small_corpus: Path, tmp_path: Path, caplog):
    from assistant.retrieval import HybridRetriever

    index = _index(tmp_path / "d")
    index.sync(load_corpus(small_corpus)[0])
    kept = tmp_path / "d" / "retriever"
    built = HybridRetriever(index, EMBEDDER, 5, 0.32)
    built.refresh(keep=kept)
    assert [p.name for p in kept.iterdir()] == [index.content_key()]
    reads = []
    real = Index.all_chunks
    Index.all_chunks = lambda self: reads.append(1) or real(self)
    try:
        loaded = HybridRetriever(_index(tmp_path / "d"), EMBEDDER, 5, 0.32)
        loaded.refresh(keep=kept)
        assert reads == []  # nothing read from the index
        question = "How does the GROW model structure a coaching conversation?"
        assert [p.chunk.chunk_id for p in loaded.retrieve(question).passages] == [
            p.chunk.chunk_id for p in built.retrieve(question).passages
        ]
        (kept / index.content_key() / "chunks.json").write_text("{not json")  # a damaged copy is rebuilt
        HybridRetriever(_index(tmp_path / "d"), EMBEDDER, 5, 0.32).refresh(keep=kept)
        assert reads == [1] and "could not be read" in caplog.text
    finally:
        Index.all_chunks = real
