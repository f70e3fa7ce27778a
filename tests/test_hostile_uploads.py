"""Hostile uploads: no pattern freezes the app, no upload stalls everyone, nothing expands unbounded."""

import threading
import time

import pytest

from assistant.chunking import chunk_document, heading
from assistant.corpus import MAX_UPLOAD_CHARS, CorpusError, save_upload
from assistant.embeddings import Embedder
from assistant.types import Document
from eval.patterns import adversarial, cases

# Normal inputs take milliseconds; a backtracking pattern took 13-90 s on 2.6 KB.
FAR_ABOVE_NORMAL_S = 2.0


@pytest.mark.parametrize("name", list(cases()))
def test_no_pattern_over_user_text_backtracks(name):
    fn = cases()[name]
    for text in adversarial(4000):
        start = time.perf_counter()
        fn(text)
        assert time.perf_counter() - start < FAR_ABOVE_NORMAL_S, (name, text[:20])


def test_a_heading_line_of_thousands_of_spaces_is_read_at_once():
    text = "# a" + " " * 3000 + "b\n\nSome text under it. More text.\n"
    start = time.perf_counter()
    chunks = chunk_document(Document("d", "t", text, "d.md"))
    assert time.perf_counter() - start < FAR_ABOVE_NORMAL_S
    assert chunks and heading("## Title ##") == (2, "Title") and heading("####### no") is None


def test_an_upload_that_expands_too_far_is_refused_in_words(tmp_path):
    big = tmp_path / "minutes.txt"
    big.write_text("The team met and agreed the plan. " * (MAX_UPLOAD_CHARS // 30), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"minutes.txt: its text is .* characters, more than the 400,000"):
        save_upload(big, tmp_path / "uploads")
    assert not any((tmp_path / "uploads").iterdir())  # nothing half-saved


def test_a_question_is_embedded_between_the_batches_of_a_large_upload():
    embedder = Embedder()
    embedder.embed_one("warm up")
    texts = [f"Sentence number {i} of a long uploaded document about rotas and budgets." for i in range(3000)]
    bulk = threading.Thread(target=embedder.embed, args=(texts,), kwargs={"bulk": True})
    bulk.start()
    time.sleep(0.5)  # the upload is under way
    embedder.embed_one("How do I delegate?")
    answered_while_indexing = bulk.is_alive()
    bulk.join()
    assert answered_while_indexing, "the question waited for the whole upload"
