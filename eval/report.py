"""Write a run's results.json, its PNG plots and report.md."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import plots
from .headline import LOWER_IS_BETTER
from .metrics import Scores

RETRIEVAL_KEYS = ["hit@1", "hit@5", "mrr", "ndcg@10", "doc_hit@1", "doc_hit@5"]


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table; a dash for None."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def jsonable(value: Any) -> Any:
    """Scores and nested results as plain JSON; keys starting with ``_`` are left out."""
    if isinstance(value, Scores):
        return asdict(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write(out: Path, run: dict[str, Any]) -> list[Path]:
    """Write results.json, the plots and report.md under ``out``; returns the plots."""
    out.mkdir(parents=True, exist_ok=True)
    ours, baseline, diagnosis = run["ours"], run["baseline"], run["diagnosis"]
    support = [i["support"] for i in ours["citation_support"].items]
    figures = [
        plots.support_histogram(support, out / "citation_support.png"),
        plots.relevance_histogram(
            [i["relevance"] for i in ours["answer_relevance"].items],
            [i["relevance"] for i in baseline["answer_relevance"].items],
            out / "answer_relevance.png",
        ),
        plots.retrieval_bars(
            {k: ours["retrieval"].aggregates[k] for k in RETRIEVAL_KEYS},
            {k: baseline["retrieval"].aggregates[k] for k in RETRIEVAL_KEYS},
            out / "retrieval.png",
        ),
        plots.latency_bars(ours["latency"], out / "latency.png"),
        plots.confusion(diagnosis["ours"]["confusion"], out / "diagnosis_confusion.png", "Diagnosis (learned)"),
    ]
    run = {**run, "plots": [f.name for f in figures]}
    (out / "results.json").write_text(json.dumps(jsonable(run), indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(markdown(run), encoding="utf-8")
    return figures


def headline_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The metric | ours | naive baseline | floor table."""
    lines = ["| metric | ours | naive baseline | floor |", "|---|---|---|---|"]
    for key, row in rows.items():
        digits = 0 if key in LOWER_IS_BETTER and key != "non_situations_diagnosed" else 3
        base = fmt(row.get("baseline"), digits)
        if row.get("baseline_name") == "keywords" and row.get("baseline") is not None:
            base += " (keywords)"
        limit = (f"≥ {row['floor']}" if "floor" in row else "") + (f"≤ {row['ceiling']}" if "ceiling" in row else "")
        lines.append(f"| {row['label']} | {fmt(row['ours'], digits)} | {base} | {limit or '—'} |")
    return lines


def _table(header: list[str], rows: list[list[Any]], digits: int = 3) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(fmt(v, digits) for v in row) + " |" for row in rows]


def markdown(run: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    meta, ours, base, diag = run["meta"], run["ours"], run["baseline"], run["diagnosis"]
    lines = [
        f"# Evaluation report ({'fast' if meta['fast'] else 'full'} run)",
        "",
        f"{meta['started']} · {meta['questions']} questions, {meta['out_of_scope']} out of scope, "
        f"{meta['conversations']} conversations, diagnosis test split · backend `{meta['llm']}` · "
        f"index build {meta['index_build_s']:.1f} s · baseline build {meta['baseline_build_s']:.1f} s · "
        f"evaluation {meta['evaluate_s']:.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in meta['phases_s'].items())}) · "
        f"total {meta['wall_s']:.1f} s",
        "",
        "## Headline",
        "",
        *headline_table(run["headline"]),
        "",
    ]
    if run["failures"]:
        lines += ["**Below the floor:**", "", *(f"- {f}" for f in run["failures"]), ""]
    lines += ["## Retrieval", "", "A passage is relevant when its doc_id matches and it contains the item's phrase;"]
    lines += ["document level only asks for the doc_id. Top 10 retrieved; nDCG uses binary gains.", ""]
    rows = [
        [name, *(r["retrieval"].aggregates[k] for k in RETRIEVAL_KEYS)]
        for name, r in (("ours", ours), ("naive RAG", base))
    ]
    lines += [*_table(["system", *RETRIEVAL_KEYS], rows), "", "![retrieval](retrieval.png)", ""]
    missed = [i for i in ours["retrieval"].items if not i["hit@5"]]
    lines += [f"### Missed by ours (no relevant passage in the top 5): {len(missed)}", ""]
    lines += [
        f"- {i['id']} “{i['question']}” — want `{i['doc_id']}` (rank {fmt(i['rank'])}); "
        f"got {', '.join(f'`{d}`' for d in i['retrieved'][:3]) or 'nothing'}"
        for i in missed
    ]
    validity, support = ours["citation_validity"], ours["citation_support"]
    invalid = [i for i in validity.items if not i["valid"]]
    lines += [
        "",
        "## Citations",
        "",
        f"Validity: {fmt(validity.aggregates['validity'])} of {len(validity.items)} "
        "in-scope replies have at least one marker, every [n] mapped to a citation and every citation used.",
        "",
    ]
    lines += [f"- {i['id']}: unknown markers {i['unknown']}, unused citations {i['unused']}" for i in invalid]
    weakest = sorted(support.items, key=lambda i: i["support"])[:5]
    lines += [
        "",
        f"Support: mean cosine {fmt(support.aggregates['mean'])} between each cited claim and its passage, "
        f"{fmt(support.aggregates['share_above'])} above 0.5 (n={len(support.items)} claims).",
        "",
        "![citation support](citation_support.png)",
        "",
        "Weakest supported claims:",
        "",
    ]
    lines += [f"- {i['id']} [{i['marker']}] {fmt(i['support'])}: “{i['claim'][:140]}”" for i in weakest]
    diagnosed = [a for a in ours["answers"] if a["diagnosis"]]
    by_id = {i["id"]: i["question"] for i in ours["retrieval"].items}
    cited = {i["id"] for i in ours["answer_source"].items if i["cites_doc"]}
    lines += [
        "",
        "## Answer relevance",
        "",
        "Cosine similarity of the question and the answer (markers stripped), over answered in-scope questions.",
        "",
        *_table(
            ["system", "mean", "n"],
            [
                [n, r["answer_relevance"].aggregates["mean"], len(r["answer_relevance"].items)]
                for n, r in (("ours", ours), ("naive RAG", base))
            ],
        ),
        "",
        "![answer relevance](answer_relevance.png)",
        "",
        *_table(
            ["system", "answer cites the question's document"],
            [[n, r["answer_source"].aggregates["rate"]] for n, r in (("ours", ours), ("naive RAG", base))],
        ),
        "",
        f"Questions ours answered as a situation (with a diagnosis): {len(diagnosed)} of {len(ours['answers'])}; "
        f"{sum(a['id'] in cited for a in diagnosed)} of them cite the question's document.",
        "",
        *(f"- {a['id']} ({a['diagnosis']}): “{by_id[a['id']]}” — cited {', '.join(a['cited'])}" for a in diagnosed),
        "",
    ]
    lines += _reading_section(ours, base)
    lines += _scope_section(ours, base) + _diagnosis_section(diag) + _followup_section(ours, base)
    lines += _latency_section(ours, base, meta) + _judge_section(run.get("judge"))
    return "\n".join(lines) + "\n"


def _reading_section(ours: dict, base: dict) -> list[str]:
    """What a person reads: is the answer in the reply, and does the reply read like a coach."""
    keys = ["echo_rate", "orphan_rate", "boilerplate_rate", "one_question_at_end"]
    rows = [
        [n, r["answer_in_reply"].aggregates["rate"], *(r["reply_quality"].aggregates[k] for k in keys)]
        for n, r in (("ours", ours), ("naive RAG", base))
    ]
    echoed = [i for i in ours["reply_quality"].items if i["echo"] or i["orphans"] or i["boilerplate"]]
    return [
        "## What a person reads",
        "",
        "Answer in reply: the library question's gold phrase appears in the reply's own text. The rest are over "
        "in-scope replies to the library questions and to every turn of the dev set (eval/data/dev.jsonl): "
        "echo (10+ consecutive words of the message repeated), orphan (a quoted sentence opening with a pronoun "
        "whose antecedent is not quoted), boilerplate (framing and call-to-action lines), and ending on exactly "
        "one question.",
        "",
        *_table(["system", "answer in reply", *keys], rows),
        "",
        *(
            f"- “{i['message']}”: echo {i['echo']}, orphans {i['orphans']}, boilerplate {i['boilerplate']}"
            for i in echoed
        ),
        "",
    ]


def _scope_section(ours: dict, base: dict) -> list[str]:
    rows = [
        [
            n,
            r["scope"].aggregates["precision"],
            r["scope"].aggregates["recall"],
            int(r["scope"].aggregates["refused_in_scope"]),
            int(r["scope"].aggregates["answered_out_of_scope"]),
        ]
        for n, r in (("ours", ours), ("naive RAG", base))
    ]
    refused = [i["question"] for i in ours["scope"].items if i["refused"] and not i["out_of_scope"]]
    lines = [
        "## Scope",
        "",
        "Positive class: out of scope (the coach should refuse). The in-scope set is questions.jsonl.",
        "",
    ]
    lines += _table(["system", "precision", "recall", "in-scope refused", "out-of-scope answered"], rows)
    lines += ["", f"### Out-of-scope questions ours answered: {len(ours['answered_out_of_scope'])}", ""]
    lines += [f"- {q}" for q in ours["answered_out_of_scope"]]
    lines += ["", f"### In-scope questions ours refused: {len(refused)}", "", *(f"- {q}" for q in refused), ""]
    return lines


def _diagnosis_section(diag: dict) -> list[str]:
    learned, keywords = diag["ours"], diag["keywords"]
    keys = ["clear_accuracy", "clear_macro_f1", "mixed_ok_rate", "non_situations_diagnosed"]
    rows = [[n, *(r[k] for k in keys)] for n, r in (("learned (ours)", learned), ("keywords", keywords))]
    lines = [
        "## Diagnosis",
        "",
        f"Test split: {learned['clear_cases']} clear cases, {learned['mixed_cases']} mixed, "
        f"{learned['non_situations']} non-situations.",
        "",
        *_table(
            ["model", "accuracy", "macro-F1", "mixed ok", f"non-situations diagnosed (of {learned['non_situations']})"],
            rows,
        ),
        "",
    ]
    for name, r in (("learned (ours)", learned), ("keywords", keywords)):
        labels = list(next(iter(r["confusion"].values())))
        lines += [f"Confusion, {name} (rows truth, columns predicted):", ""]
        lines += _table(["truth", *labels], [[t, *(row[p] for p in labels)] for t, row in r["confusion"].items()])
        lines.append("")
    wrong = [
        i for i in learned["items"] if ("ok" in i and not i["ok"]) or ("ok" not in i and i["truth"] != i["predicted"])
    ]
    lines += [
        "![diagnosis confusion](diagnosis_confusion.png)",
        "",
        f"### False diagnoses, learned: {len(wrong)} cases",
        "",
    ]
    lines += [f"- {i['id']}: truth {i['truth']}, predicted {i['predicted']}" for i in wrong]
    lines += ["", "Non-situations the learned model diagnosed anyway:", ""]
    lines += [f"- {t}" for t in learned["false_diagnoses"]] or ["- none"]
    return lines + [""]


def _followup_section(ours: dict, base: dict) -> list[str]:
    missed = [i for i in ours["followups"].items if not i["grounded"]]
    lines = [
        "## Follow-ups",
        "",
        "Ours replays each conversation with the growing history; the naive baseline "
        "sees only the last turn. Grounded: a citation of the last reply comes from an expected document.",
        "",
    ]
    lines += _table(
        ["system", "grounding rate", "n"],
        [
            [n, r["followups"].aggregates["rate"], len(r["followups"].items)]
            for n, r in (("ours", ours), ("naive RAG", base))
        ],
    )
    lines += ["", f"Ungrounded, ours: {len(missed)}", ""]
    return lines + [f"- {i['id']}: cited {', '.join(i['cited']) or 'nothing'}" for i in missed] + [""]


def _latency_section(ours: dict, base: dict, meta: dict) -> list[str]:
    rows = [
        [f"{n}: {stage}", s["p50"], s["p95"], s["mean"]]
        for n, r in (("ours", ours), ("naive RAG", base))
        for stage, s in r["latency"].items()
    ]
    lines = [
        "## Latency and memory",
        "",
        "Milliseconds per in-scope question. retrieve = top-10 retrieval; "
        "compose = whole answer minus retrieve (an estimate); diagnose = coach.diagnose on the question.",
        "",
    ]
    lines += _table(["stage", "p50 ms", "p95 ms", "mean ms"], rows, digits=1)
    return lines + [
        "",
        f"Peak memory (ru_maxrss, whole eval process): {meta['peak_memory_mib']:.0f} MiB",
        "",
        "![latency](latency.png)",
        "",
    ]


def _judge_section(judge: dict | None) -> list[str]:
    if not judge:
        return ["## LLM judge", "", "Not requested (run with --judge and an ASSISTANT_LLM backend).", ""]
    if judge["status"] != "ok":
        return ["## LLM judge", "", f"Skipped: {judge['reason']}.", ""]
    return [
        "## LLM judge (ragas)",
        "",
        f"Model `{judge['model']}`, {judge['n']} answers: faithfulness "
        f"{fmt(judge.get('faithfulness'))}, answer relevancy {fmt(judge.get('answer_relevancy'))}.",
        "",
    ]
