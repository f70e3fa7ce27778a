"""The coach as MCP tools, for agent hosts (Claude Desktop, Cursor, Cline): ``ask_coach``,
``diagnose`` and ``search_library``, served at ``/mcp`` (streamable HTTP) by the page's own
process when ``ASSISTANT_MCP=1``. Needs the ``mcp`` extra (the ``mcp`` package, 2.x). Access is
the /v1 endpoint's: a key from ASSISTANT_API_KEYS as a bearer token, or this machine only.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .api import refused, reply_fields
from .coach import Coach


def build_server(coach: Coach) -> Any:
    """An MCPServer whose tools answer from ``coach``."""
    import anyio
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(
        "leadership-coach",
        instructions=(
            "A leadership coach for people who run teams. It answers from a cited library of "
            "leadership material and a playbook of common situations, and tells whether a described "
            "situation leans to managing or to leading. Keep its [n] citations when you quote it."
        ),
    )

    @server.tool()
    async def ask_coach(message: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Ask the coach about a situation with a team, or a question on managing and leading.

        Args:
            message: what the person says, in their words (a situation, a question, a request for
                options, or a step they commit to).
            history: the conversation so far, oldest first, as {"role": "user" | "assistant",
                "content": "..."} turns; follow-ups ("what could I do instead?") are read against it.

        Returns the reply text with [n] markers and a Sources list, the structured citations
        (index, title, section, quote, doc_id), the managing-or-leading diagnosis of a situation
        (or null), and how the message was read (intent). A message about risk to someone's life
        or safety gets a safety reply (safety: true) that must be passed on as it is.
        """
        reply = await anyio.to_thread.run_sync(lambda: coach.ask(message, history=list(history or [])))
        return reply_fields(reply)

    @server.tool()
    async def diagnose(situation: str) -> dict[str, Any]:
        """Whether a described situation leans to managing or to leading, facet by facet.

        Args:
            situation: something a manager did or faces, e.g. "I approved every expense and
                checked all timesheets this week".

        Returns {"diagnosis": ...}: lean ("management", "leadership" or "balanced"), the shares of
        each, the ten focus areas with their scores, and the phrases behind them; null when the
        text describes no situation (a question, a greeting).
        """
        found = await anyio.to_thread.run_sync(coach.diagnose, situation)
        return {"diagnosis": asdict(found) if found else None}

    @server.tool()
    async def search_library(query: str, k: int = 5) -> dict[str, Any]:
        """Search the coach's leadership library (articles and playbook cards) for passages.

        Args:
            query: what to look for, in plain words.
            k: how many passages, 1-20.

        Returns {"passages": [...]}, best first, each with doc_id, title, section, text and score;
        empty when the library does not cover the query.
        """
        k = max(1, min(20, int(k)))
        passages = await anyio.to_thread.run_sync(lambda: coach.search(query, top_k=k))
        return {
            "passages": [
                {
                    "doc_id": p.chunk.doc_id,
                    "title": p.chunk.title,
                    "section": p.chunk.section,
                    "text": p.chunk.text,
                    "score": round(p.score, 4),
                }
                for p in passages
            ]
        }

    return server


class _Guarded:
    """The MCP endpoint behind the /v1 endpoint's access rule."""

    def __init__(self, app: Any, keys: list[str]) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        response = refused(Request(scope), self.keys) if scope["type"] == "http" else None
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _RunsWithServer:
    """Pure ASGI middleware that keeps the MCP session manager running for the server's life: it
    wraps the app's lifespan, which lasts from start to shutdown."""

    def __init__(self, app: Any, manager: Any) -> None:
        self.app, self.manager = app, manager

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            async with self.manager.run():
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def mount(coach: Coach, keys: list[str]) -> tuple[list, list]:
    """(routes, middleware) that serve the tools at /mcp on an app of the caller's."""
    from starlette.middleware import Middleware
    from starlette.routing import Route

    server = build_server(coach)
    inner = server.streamable_http_app(stateless_http=True, json_response=True)
    routes = [Route(r.path, endpoint=_Guarded(r.endpoint, keys)) for r in inner.routes]
    return routes, [Middleware(_RunsWithServer, manager=server.session_manager)]
