"""The coach as MCP tools: listed and called with the ``mcp`` client, in process over the small
library and against a real app process (ASSISTANT_MCP=1) on 127.0.0.1."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import mcp
import pytest

from assistant.mcp_tools import build_server

TOOLS = {"ask_coach", "diagnose", "search_library"}
SITUATION = "I approved every expense claim and checked all the timesheets myself this week."


async def _use(target: object) -> dict:
    """List the tools and call each once; what came back, by tool."""
    async with mcp.Client(target) as client:
        listed = (await client.list_tools()).tools
        out: dict = {"tools": {t.name: t for t in listed}}
        for name, arguments in (
            ("diagnose", {"situation": SITUATION}),
            ("search_library", {"query": "the GROW model of coaching", "k": 3}),
            (
                "ask_coach",
                {
                    "message": "What could I do instead?",
                    "history": [{"role": "user", "content": SITUATION}, {"role": "assistant", "content": "..."}],
                },
            ),
            ("diagnose", {"situation": "hello"}),
        ):
            result = await client.call_tool(name, arguments)
            assert not result.is_error, result.content
            out.setdefault(name, []).append(result.structured_content)
        return out


def _check(out: dict) -> None:
    assert set(out["tools"]) == TOOLS
    for tool in out["tools"].values():
        assert len(tool.description) > 100 and tool.output_schema  # an agent can act on it
    situation, greeting = out["diagnose"]
    assert situation["diagnosis"]["lean"] == "management" and greeting["diagnosis"] is None
    passages = out["search_library"][0]["passages"]
    assert 1 <= len(passages) <= 3 and passages[0]["doc_id"] == "grow-model"
    asked = out["ask_coach"][0]
    assert asked["intent"] == "options" and asked["citations"] and "\n\nSources:\n[1] " in asked["text"]


def _run(target: object) -> dict:
    """``_use`` on an event loop of its own thread (a browser test may leave one running here)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _use(target)).result()


def test_the_tools_are_listed_and_answer_in_process(small_coach):
    _check(_run(build_server(small_coach)))


@pytest.mark.slow
def test_a_real_app_serves_the_tools_at_mcp(data_copy):
    from conftest import running_app

    with running_app(data_copy, ASSISTANT_MCP="1") as url:
        _check(_run(f"{url}mcp"))
