"""The OpenAI-protocol endpoint: the official ``openai`` client in process over the small library,
then against a real app process on 127.0.0.1 (with LangChain's ChatOpenAI)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from assistant.answer.context import markers
from assistant.api import MAX_BODY_BYTES, MODEL_ID, Api, read_keys

KEY = "test-key-1"
SITUATION = "I spent my week approving expenses and checking timesheets. Am I managing or leading?"


@pytest.fixture(scope="module")
def api(small_coach) -> Api:
    return Api(small_coach, [KEY, "test-key-2"], workers=2, queue=2)


@pytest.fixture(scope="module")
def http(api: Api) -> TestClient:
    return TestClient(Starlette(routes=api.routes()), base_url="http://testserver")


@pytest.fixture(scope="module")
def client(http: TestClient) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key=KEY, http_client=http, max_retries=0)


def _ask(client: openai.OpenAI, messages: list[dict], **kwargs):
    return client.chat.completions.create(model=MODEL_ID, messages=messages, **kwargs)


def test_the_openai_client_lists_the_model_and_gets_a_cited_answer(client):
    assert [m.id for m in client.models.list()] == [MODEL_ID]
    assert client.models.retrieve(MODEL_ID).id == MODEL_ID
    answer = _ask(client, [{"role": "user", "content": "What is the GROW model?"}])
    text = answer.choices[0].message.content
    citations = answer.model_extra["citations"]
    assert "GROW" in text and "\n\nSources:\n[1] " in text and answer.choices[0].finish_reason == "stop"
    assert set(markers(text.split("\n\nSources:")[0])) == {c["index"] for c in citations} and citations
    assert {"index", "title", "section", "quote", "doc_id"} <= set(citations[0])
    # Counted by the embedding model's tokenizer: "what is the grow model ?" is six word pieces.
    assert answer.usage.prompt_tokens == 6 and answer.usage.completion_tokens > 20


def test_the_streamed_text_is_the_answer_and_ends_with_done(client, http):
    messages = [{"role": "user", "content": SITUATION}]
    whole = _ask(client, messages)
    stream = _ask(client, messages, stream=True, stream_options={"include_usage": True})
    pieces, usage = [], None
    for chunk in stream:
        usage = chunk.usage or usage
        pieces += [c.delta.content or "" for c in chunk.choices]
    assert "".join(pieces) == whole.choices[0].message.content
    assert usage is not None and usage.total_tokens == whole.usage.total_tokens
    assert whole.model_extra["diagnosis"]["lean"] == "management"
    raw = http.post(
        "/v1/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json={"model": MODEL_ID, "messages": messages, "stream": True},
    )
    events = [line for line in raw.text.split("\n\n") if line]
    assert raw.headers["content-type"].startswith("text/event-stream") and events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] == "stop"


def test_a_follow_up_with_history_stays_on_the_situation(client):
    first = _ask(client, [{"role": "user", "content": SITUATION}]).choices[0].message.content
    follow_up = _ask(
        client,
        [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": [{"type": "text", "text": SITUATION}]},
            {"role": "assistant", "content": first},
            {"role": "user", "content": "What could I do instead?"},
        ],
    )
    assert follow_up.model_extra["intent"] == "options"
    assert all(c["doc_id"].startswith("playbook-") for c in follow_up.model_extra["citations"])


def test_a_wrong_key_an_unknown_model_and_bad_bodies_get_openai_errors(client, http):
    wrong = openai.OpenAI(base_url="http://testserver/v1", api_key="nope", http_client=http, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        _ask(wrong, [{"role": "user", "content": "hello"}])
    assert refused.value.status_code == 401 and refused.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
    assert missing.value.body["code"] == "model_not_found"
    auth = {"Authorization": f"Bearer {KEY}"}
    for body in (b"{not json", b"[]", json.dumps({"model": MODEL_ID}).encode()):
        reply = http.post("/v1/chat/completions", headers=auth, content=body)
        assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"
    last_is_ours = {"model": MODEL_ID, "messages": [{"role": "assistant", "content": "hi"}]}
    assert http.post("/v1/chat/completions", headers=auth, json=last_is_ours).status_code == 400
    empty = {"model": MODEL_ID, "messages": [{"role": "user", "content": "   "}]}
    assert "empty" in http.post("/v1/chat/completions", headers=auth, json=empty).json()["error"]["message"]
    huge = {"model": MODEL_ID, "messages": [{"role": "user", "content": "x" * MAX_BODY_BYTES}]}
    assert http.post("/v1/chat/completions", headers=auth, json=huge).status_code == 413


def test_a_full_queue_is_told_to_come_back(api, http):
    api._admitted = api.workers + api.queue  # as many as may run and wait are in
    try:
        body = {"model": MODEL_ID, "messages": [{"role": "user", "content": "hello"}]}
        reply = http.post("/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"}, json=body)
    finally:
        api._admitted = 0
    assert reply.status_code == 429 and reply.json()["error"]["type"] == "rate_limit_exceeded"


def test_without_keys_only_this_machine_is_served(small_coach):
    app = Starlette(routes=Api(small_coach, []).routes())
    assert TestClient(app, client=("127.0.0.1", 5000)).get("/v1/models").status_code == 200
    assert TestClient(app, client=("10.1.2.3", 5000)).get("/v1/models").status_code == 401


def test_keys_come_from_a_list_or_a_file(tmp_path: Path):
    assert read_keys(" a, b ,") == ["a", "b"]
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nk-one\n\nk-two\n")
    assert read_keys(str(keys)) == ["k-one", "k-two"] and read_keys("") == []


@pytest.mark.slow
def test_a_real_app_process_answers_the_openai_client_and_langchain(data_copy):
    from conftest import running_app
    from langchain_openai import ChatOpenAI

    with running_app(data_copy, ASSISTANT_API_KEYS=KEY) as url:
        client = openai.OpenAI(base_url=f"{url}v1", api_key=KEY, max_retries=0)
        question = [{"role": "user", "content": "What is the GROW model?"}]
        whole = client.chat.completions.create(model=MODEL_ID, messages=question)
        streamed = client.chat.completions.create(model=MODEL_ID, messages=question, stream=True)
        text = "".join(c.delta.content or "" for chunk in streamed for c in chunk.choices)
        assert text == whole.choices[0].message.content and whole.model_extra["citations"]
        chat = ChatOpenAI(model=MODEL_ID, base_url=f"{url}v1", api_key=KEY, max_retries=0)
        assert chat.invoke("What is the GROW model?").content == text
        first = _ask(client, [{"role": "user", "content": SITUATION}]).choices[0].message.content
        turns = [{"role": "user", "content": SITUATION}, {"role": "assistant", "content": first}]
        follow_up = _ask(client, [*turns, {"role": "user", "content": "What could I do instead?"}])
        assert follow_up.model_extra["intent"] == "options" and follow_up.model_extra["citations"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}v1", api_key="wrong", max_retries=0).models.list()
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(model="gpt-4o", messages=question)
        assert missing.value.body["code"] == "model_not_found"
        bad = urllib.request.Request(
            f"{url}v1/chat/completions", data=b"{not json", headers={"Authorization": f"Bearer {KEY}"}
        )
        with pytest.raises(urllib.error.HTTPError) as malformed:
            urllib.request.urlopen(bad)
        assert malformed.value.code == 400 and json.loads(malformed.value.read())["error"]["message"]
        with urllib.request.urlopen(url) as page:  # the page is still served beside /v1
            assert page.status == 200 and b"gradio" in page.read().lower()
