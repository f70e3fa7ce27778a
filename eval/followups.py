"""Follow-up grounding with and without condensing: python -m eval.followups

Replays each conversation of eval/data/multiturn.jsonl through the public API. The last turn
is grounded when a citation of its reply comes from one of the expected documents.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from assistant import Coach, Settings

DATA = Path(__file__).resolve().parent / "data"


def grounded(coach: Coach, conversation: dict, condense: bool) -> bool:
    history: list[dict] = []
    turns = conversation["turns"]
    for turn in turns[:-1]:
        reply = coach.ask(turn, history=history)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    last = coach.ask(turns[-1], history=history if condense else [])
    return any(c.doc_id in conversation["expected_doc_ids"] for c in last.citations)


def main() -> None:
    conversations = [json.loads(line) for line in (DATA / "multiturn.jsonl").open(encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        coach = Coach(Settings(data_dir=Path(tmp)))
        for condense in (False, True):
            hits = [grounded(coach, c, condense) for c in conversations]
            label = "with condensing   " if condense else "without condensing"
            print(f"{label}: {sum(hits)}/{len(hits)} follow-ups grounded ({sum(hits) / len(hits):.0%})")
            if condense:
                for c, ok in zip(conversations, hits):
                    if not ok:
                        print(f"   missed {c['id']}: {' / '.join(c['turns'])}")


if __name__ == "__main__":
    main()
