from langchain_core.retrievers import BaseRetriever


def test_maxwell_definition_of_leadership_is_found(coach):
    result = coach.retriever.retrieve("How does John Maxwell define leadership?")
    assert result.in_scope
    top = [p.chunk.text for p in result.passages]
    assert any("Leadership is influence, nothing more, nothing less." in t for t in top)
    reply = coach.ask("How does John Maxwell define leadership?")
    assert any(c.quote.startswith("Leadership is influence, nothing more") for c in reply.citations)


def test_what_managers_focus_on_is_found(coach):
    result = coach.retriever.retrieve("What do managers focus on?")
    assert any(
        p.chunk.doc_id == "management-vs-leadership" and p.chunk.section == "Management Focus"
        for p in result.passages[:3]
    )


def test_out_of_scope_question_finds_nothing(coach):
    result = coach.retriever.retrieve("What's the capital of Australia?")
    assert not result.in_scope and result.passages == []


def test_top_k_is_honoured(coach):
    assert len(coach.retriever.retrieve("How do I delegate?", top_k=2).passages) == 2


def test_langchain_retriever(coach):
    retriever = coach.as_retriever()
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("What is psychological safety?")
    assert docs and docs[0].metadata["doc_id"] == "psychological-safety"
    assert {"title", "section", "start", "end", "score"} <= set(docs[0].metadata)


def test_a_follow_up_naming_an_author_keeps_that_authors_documents_in_the_retrievals_order():
    from assistant.coaching import by_named_author, named_in
    from assistant.retrieval import Retrieval
    from assistant.types import Chunk, Passage

    def passage(title: str, n: int) -> Passage:
        return Passage(Chunk(f"c{n}", f"d{n}", title, "", "text", 0, 4), 1.0 - n / 10, 0.5)

    found = Retrieval(
        "q",
        [passage(t, n) for n, t in enumerate(["Organizing", "Kotter on Change", "Bennis", "Kotter's Eight Steps"])],
        0.5,
        True,
    )
    assert named_in("What does Kotter say about this? Maybe not. I wonder") == {"kotter"}
    kept = by_named_author(named_in("What does Kotter say about this?"), found, 3)
    assert [p.chunk.title for p in kept.passages] == ["Kotter on Change", "Kotter's Eight Steps"]
    assert by_named_author(named_in("What does Drucker say about this?"), found, 3) is None
    assert by_named_author(named_in("What would you say about this?"), found, 3) is None
