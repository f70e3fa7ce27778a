"""The library itself: complete front matter, unique ids, real length, no copied paragraphs,
and every topic question finds its article."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT

from assistant.corpus import load_corpus

DOCS, PROBLEMS = load_corpus(CORPUS)
ARTICLES = [
    d for d in DOCS if d.doc_id != "management-vs-leadership" and d.metadata.get("kind") not in ("playbook", "faq")
]
CARDS = [d for d in DOCS if d.metadata.get("kind") == "playbook"]
FAQS = [d for d in DOCS if d.metadata.get("kind") == "faq"]
QUESTIONS = [json.loads(line) for line in (ROOT / "eval/data/questions.jsonl").open(encoding="utf-8")]


def test_every_file_loads():
    assert PROBLEMS == []
    assert len(ARTICLES) >= 30


@pytest.mark.parametrize("doc", ARTICLES, ids=lambda d: d.doc_id)
def test_article_front_matter_and_length(doc):
    meta = doc.metadata
    for key in ("id", "title", "summary", "topics", "references", "license", "author", "source"):
        assert meta.get(key), f"{doc.doc_id}: {key} missing"
    assert meta["id"] == Path(doc.path).stem
    assert isinstance(meta["topics"], list) and meta["topics"]
    for ref in meta["references"]:
        assert ref.get("author") and ref.get("title") and int(ref.get("year"))
    words = len(doc.text.split())
    assert 500 <= words <= 1300, f"{doc.doc_id}: {words} words"
    assert doc.text.count("\n## ") >= 3, f"{doc.doc_id}: needs sections with headings"


@pytest.mark.parametrize("doc", FAQS, ids=lambda d: d.doc_id)
def test_common_questions_are_answered_first_in_sentences_that_stand_alone(doc):
    from assistant.answer.ranking import leans_on_what_came_before
    from assistant.chunking import chunk_document, chunk_sentences
    from assistant.coaching import own_question

    assert doc.metadata["id"] == f"faq-{Path(doc.path).stem}" and doc.metadata["references"]
    sections = doc.text.split("\n## ")[1:]
    assert len(sections) >= 15
    for section in sections:
        heading, _, answer = section.partition("\n")
        assert heading.endswith("?") and answer.count("Ask yourself:") == 1, heading
        assert own_question(answer).endswith("?"), heading
    # The coach quotes a section from its start, a paragraph per passage: each passage's first
    # sentence must read on its own.
    passages = [chunk_sentences(doc.text, c) for c in chunk_document(doc)]
    assert sum(len(p) for p in passages) >= 4 * len(sections)
    assert [p[0].text for p in passages if p and leans_on_what_came_before(p[0].text)] == []


@pytest.mark.parametrize("doc", FAQS, ids=lambda d: d.doc_id)
def test_each_common_question_lists_other_ways_people_ask_it(doc):
    from assistant.library import asked_in

    headings = [s.partition("\n")[0] for s in doc.text.split("\n## ")[1:]]
    asked = asked_in(doc)
    assert sorted(h for _, h in asked) == sorted(headings)
    assert all(len(ways) >= 5 and len(set(ways)) == len(ways) for ways in asked.values())


def test_other_wordings_are_kept_only_for_headings_the_text_has():
    from assistant.library import asked_in
    from assistant.types import Document

    doc = Document(
        "faq-x",
        "x",
        "# x\n\n## How do I start?\nStart small.\n",
        "x.md",
        {"asked": {"How do I start?": ["where to begin", 3], "How do I stop?": ["halt"]}},
    )
    assert asked_in(doc) == {("faq-x", "How do I start?"): ("where to begin",)}
    assert asked_in(Document("y", "y", "text", "y.md", {"asked": ["not", "a", "mapping"]})) == {}


@pytest.mark.parametrize("doc", CARDS, ids=lambda d: d.doc_id)
def test_playbook_card_has_reading_options_pitfalls_questions_and_examples(doc):
    from assistant.playbook import read_card
    from assistant.questions import SIDE_OF

    card = read_card(doc)
    assert card is not None and card.doc_id == f"playbook-{Path(doc.path).stem}"
    assert card.facets and set(card.facets) <= set(SIDE_OF) and card.lacking in SIDE_OF
    assert card.reading and card.watch and 2 <= len(card.questions) <= 3
    assert all(q.endswith("?") for q in card.questions)
    assert 3 <= len(card.options) <= 5
    for option in card.options:
        assert option.why is not None and (CORPUS / f"{option.source}.md").exists(), option.action.text
        assert doc.text[option.line.start : option.line.end].startswith(option.action.text[:30])
    assert len(card.examples) >= 12 and len(set(card.examples)) == len(card.examples)
    # words a manager could say, each a moment and the words in quotes
    assert 2 <= len(card.words) <= 3
    assert all(re.fullmatch(r'[^"]{3,60}: "[^"]{10,300}"', line.text) for line in card.words), card.words


def test_the_playbook_covers_the_common_situations():
    assert len(CARDS) >= 80


def test_ids_are_unique():
    ids = Counter(d.doc_id for d in DOCS)
    assert [i for i, n in ids.items() if n > 1] == []


def test_no_paragraph_appears_in_two_documents():
    seen: dict[str, str] = {}
    for doc in DOCS:
        for paragraph in doc.text.split("\n\n"):
            key = " ".join(paragraph.split()).lower()
            if len(key) < 60:
                continue
            assert key not in seen or seen[key] == doc.doc_id, f"{doc.doc_id} repeats {seen[key]}: {key[:60]}"
            seen[key] = doc.doc_id


def test_readme_lists_every_document():
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    for doc in DOCS:
        assert f"`{doc.doc_id}`" in readme


def test_every_question_phrase_is_in_its_document():
    text = {d.doc_id: d.text for d in DOCS}
    for q in QUESTIONS:
        assert q["phrase"] in text[q["doc_id"]], q["id"]


@pytest.mark.parametrize("q", [q for q in QUESTIONS if q["topic_question"]], ids=lambda q: q["doc_id"])
def test_topic_question_retrieves_its_document_in_top_3(coach, q):
    passages = coach.retriever.retrieve(q["question"]).passages
    docs = list(dict.fromkeys(p.chunk.doc_id for p in passages))
    assert q["doc_id"] in docs[:3], (q["question"], docs[:3])
