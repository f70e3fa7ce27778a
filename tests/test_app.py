"""The real app in its own process, driven through gradio_client."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(data_copy: Path):
    port = _free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_copy), "GRADIO_SERVER_PORT": str(port)}
    env.pop("GRADIO_SERVER_NAME", None)
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited early:\n{proc.stdout.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("app did not start listening in time")
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    proc.wait(timeout=30)


def test_app_answers_one_message(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    box, messages = client.predict("What do managers focus on?", [], api_name="/chat")
    assert box == ""
    roles = [m["role"] for m in messages]
    assert roles[:2] == ["user", "assistant"]
    answer = messages[1]["content"]
    answer = answer if isinstance(answer, str) else str(answer)
    assert "[1]" in answer
    sources = [m for m in messages if (m.get("metadata") or {}).get("title", "").startswith("Sources")]
    assert sources and "<mark>" in str(sources[0]["content"])
