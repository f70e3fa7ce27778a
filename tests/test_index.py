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
