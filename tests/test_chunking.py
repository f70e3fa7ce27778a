import re
from dataclasses import replace
from pathlib import Path

from conftest import CORPUS

from assistant.chunking import MAX_CHARS, chunk_document, chunk_sentences
from assistant.corpus import load_corpus, load_document
from assistant.types import Document

DOCS, _ = load_corpus(CORPUS)


def test_chunks_are_exact_spans_of_their_document():
    for doc in DOCS:
        chunks = chunk_document(doc)
        assert chunks, doc.doc_id
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.doc_id == doc.doc_id and chunk.title == doc.title and chunk.section


def test_no_chunk_cuts_a_sentence():
    # A playbook option ends with its source tag: "... progress. (From: focus-organizing)"
    ends_sentence = re.compile(r"([.!?:][\"”’')*]*|[.!?] \(From: [\w-]+\)|\n\s*(?:[-*]|\d+\.)\s[^\n]*|\n#+ [^\n]*)$")
    for doc in DOCS:
        for chunk in chunk_document(doc):
            assert ends_sentence.search(chunk.text.rstrip()), (doc.doc_id, chunk.text[-80:])
            before = doc.text[: chunk.start].rstrip()
            line_prefix = doc.text[doc.text.rfind("\n", 0, chunk.start) + 1 : chunk.start]
            starts_clean = (
                not before or before[-1] in ".!?:\"”’')*" or re.fullmatch(r"\s*([-*+]|\d+[.)])?\s*", line_prefix)
            )
            assert starts_clean, (doc.doc_id, chunk.text[:80])


def test_chunks_stay_within_size_except_one_long_unit():
    for doc in DOCS:
        for chunk in chunk_document(doc):
            # The heading line, its newline, and a list marker ("- ") before the first unit.
            heading = len(chunk.text.split("\n", 1)[0]) + 3 if chunk.text.startswith("#") else 0
            assert len(chunk.text) <= MAX_CHARS + heading or len(chunk_sentences(doc.text, chunk)) == 1


def test_focus_lists_stay_with_their_heading():
    doc = load_document(CORPUS / "management-vs-leadership.md")
    chunks = chunk_document(doc)
    for heading, items in (
        ("Management Focus", ["Planning", "Organizing", "Administering", "Controlling", "Enforcement"]),
        ("Leadership Focus", ["Direction", "Vision", "Motivation", "Inspiring", "Empowering"]),
    ):
        [chunk] = [c for c in chunks if f"- {items[0]}" in c.text]
        assert chunk.section == heading
        assert chunk.text.startswith(f"## {heading}")
        assert all(f"- {item}" in chunk.text for item in items)


def test_a_list_reads_as_one_quotable_line():
    doc = load_document(CORPUS / "management-vs-leadership.md")
    texts = [s.text for c in chunk_document(doc) for s in chunk_sentences(doc.text, c)]
    assert "They focus on: Planning, Organizing, Administering, Controlling, Enforcement." in texts


def test_ids_are_stable_and_follow_content():
    doc = load_document(CORPUS / "grow-model.md")
    first = [c.chunk_id for c in chunk_document(doc)]
    assert first == [c.chunk_id for c in chunk_document(doc)]
    assert len(set(first)) == len(first)
    edited = replace(doc, text=doc.text.replace("GROW", "G.R.O.W.", 1))
    changed = [c.chunk_id for c in chunk_document(edited)]
    assert changed != first and len(set(changed) & set(first)) == len(first) - 1


def test_wrapped_lines_of_a_pdf_stay_one_sentence():
    text = (
        "Leaders who delegate real decisions find that their people grow faster than those\n"
        "who are only handed tasks. Short line here.\n"
    )
    doc = Document("wrapped", "Wrapped", text, str(Path("wrapped.txt")))
    [chunk] = chunk_document(doc)
    sentences = [s.text for s in chunk_sentences(text, chunk)]
    assert sentences[0].endswith("only handed tasks.")
    assert not any(re.match(r"who are only", s) for s in sentences)


def test_no_chunk_boundary_cuts_a_list_item_in_two():
    from assistant.playbook import read_card

    cut = []
    for doc in DOCS:
        card = read_card(doc) if doc.metadata.get("kind") == "playbook" else None
        if card is None:
            continue
        chunks = chunk_document(doc)
        for option in card.options:
            line = option.line  # the action and why it helps, quoted together
            if not any(c.start <= line.start and line.end <= c.end for c in chunks):
                cut.append((doc.doc_id, line.text[:50]))
    assert cut == []


def test_a_sentence_that_says_nothing_is_never_quoted():
    text = (
        "# Managers and leaders\n\nThere’s actually a big difference between the two. Managers are maintainers who "
        "rely on systems and controls.\n\n领导者需要不同的技能，而管理者需要系统。\n"
    )
    doc = Document("d", "Managers and leaders", text, "d.md")
    quoted = [s.text for c in chunk_document(doc) for s in chunk_sentences(text, c)]
    chinese = "领导者需要不同的技能，而管理者需要系统。"
    assert quoted == ["Managers are maintainers who rely on systems and controls.", chinese]
