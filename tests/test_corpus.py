import hashlib
import re
from pathlib import Path

import pytest
from conftest import CORPUS, SOURCE, pdf_bytes

from assistant.corpus import CorpusError, load_corpus, load_document

# sha256 of the source document's non-blank lines joined by newlines: the check stands on a
# machine without ../shared/source, and a changed source shows up where it is present.
SOURCE_LINES_SHA256 = "339f8a824e4bf645ecaa7c521b8d099ce5b0f4cdcf662a546f78cd3ed147d9dc"


def test_source_document_is_in_the_corpus_word_for_word():
    doc = load_document(CORPUS / "management-vs-leadership.md")
    markup = re.compile(r"^(## |> ?)")
    body_lines = [markup.sub("", line) for line in doc.text.splitlines() if markup.sub("", line).strip()]
    assert hashlib.sha256("\n".join(body_lines).encode()).hexdigest() == SOURCE_LINES_SHA256
    if SOURCE.exists():
        source_lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert body_lines == source_lines
    assert "source material" in doc.metadata["source"].lower()
    assert doc.metadata["id"] == "management-vs-leadership"
    for key in ("id", "title", "author", "source", "license", "references"):
        assert doc.metadata.get(key), key


def test_markdown_front_matter_gives_id_and_title():
    doc = load_document(CORPUS / "grow-model.md")
    assert doc.doc_id == "grow-model"
    assert doc.title == doc.metadata["title"]
    assert not doc.text.startswith("---")
    assert len(doc.content_hash) == 64


def test_txt_and_pdf_load(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("Delegation grows people.\nIt takes patience.", encoding="utf-8")
    (tmp_path / "memo.pdf").write_bytes(pdf_bytes("Trust your team to decide."))
    docs, problems = load_corpus(tmp_path)
    assert problems == []
    by_id = {d.doc_id: d for d in docs}
    assert by_id["notes"].text.startswith("Delegation grows people.")
    assert "Trust your team to decide." in by_id["memo"].text


def test_bad_files_are_skipped_with_a_warning_naming_them(tmp_path: Path, caplog):
    (tmp_path / "good.md").write_text("# Good\n\nListening is part of leading.", encoding="utf-8")
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 leadership".encode("latin-1"))
    (tmp_path / "broken.pdf").write_bytes(pdf_bytes("Cut off")[:60])
    (tmp_path / "bad-yaml.md").write_text("---\nid: [unclosed\n---\nText here.", encoding="utf-8")
    (tmp_path / "README.md").write_text("# not a document", encoding="utf-8")
    docs, problems = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["good"]
    joined = "\n".join(problems)
    for name in ("empty.md", "latin1.txt", "broken.pdf", "bad-yaml.md"):
        assert name in joined
    assert "README" not in joined
    assert "latin1.txt" in caplog.text


def test_missing_file_raises_a_corpus_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="nothing.md"):
        load_document(tmp_path / "nothing.md")
