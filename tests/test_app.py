"""The real app in its own process, driven through gradio_client."""

from pathlib import Path

from conftest import running_app


def test_app_answers_one_message(data_copy: Path):
    from gradio_client import Client

    with running_app(data_copy) as url:
        client = Client(url, verbose=False)
        box, messages, sources, _diagnosis, exported = client.predict(
            "What do managers focus on?", [], 5, True, api_name="/chat"
        )
    assert box == ""
    assert [m["role"] for m in messages[:2]] == ["user", "assistant"]
    answer = messages[1]["content"]
    answer = answer if isinstance(answer, str) else str(answer)
    assert "[1]" in answer
    boxes = [m for m in messages if (m.get("metadata") or {}).get("title", "").startswith("Sources")]
    assert boxes and "<mark>" in str(boxes[0]["content"])
    assert 'id="source-1-1"' in sources and "<mark>" in sources
    assert exported and "What do managers focus on?" in Path(exported).read_text(encoding="utf-8")


def test_the_api_lists_only_named_endpoints(data_copy: Path):
    from gradio_client import Client

    with running_app(data_copy) as url:
        api = Client(url, verbose=False).view_api(print_info=False, return_format="dict")
    assert sorted(api["named_endpoints"]) == ["/chat", "/diagnose", "/export", "/feedback", "/upload"]
    assert not api["unnamed_endpoints"]


def test_the_upload_route_refuses_more_files_than_the_page_takes(data_copy: Path):
    import httpx

    from assistant.corpus import MAX_FILES_PER_UPLOAD

    def files(n: int) -> list:
        return [("files", (f"note-{i}.md", b"# Note\n\nA few words.\n", "text/markdown")) for i in range(n)]

    def chunked():
        yield b"--x\r\n"

    with running_app(data_copy) as url:
        route = url + "gradio_api/upload"
        too_many = httpx.post(route, files=files(MAX_FILES_PER_UPLOAD + 1), timeout=30)
        allowed = httpx.post(route, files=files(MAX_FILES_PER_UPLOAD), timeout=30)
        headers = {"content-type": "multipart/form-data; boundary=x"}
        no_length = httpx.post(route, content=chunked(), headers=headers, timeout=30)
    assert too_many.status_code == 413 and "At most 10 files" in too_many.text
    assert allowed.status_code == 200 and len(allowed.json()) == MAX_FILES_PER_UPLOAD
    assert no_length.status_code == 411
