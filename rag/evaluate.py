"""Grounding evals: run the eval set through `search`/`ask` and compute the metrics.

Metrics (per question, then averaged over the questions they apply to):
- recall@k: share of a question's gold papers among the papers of the top-k hits.
- MRR: 1 / rank of the first hit from a gold paper (0 when none is in the top k).
- invalid_markers: [n] markers in the final answer that point to no source (must be 0);
  raw_invalid_markers counts them in the model's reply before verification.
- broken_sentences: answer sentences with a hole where a word was (a function word right before
  punctuation or a marker, "The algorithm in matches", "The work that ... is [1]."), or a name said
  twice in a row ("LISA LISA uses"); must be 0.
- cited_precision: share of the papers an answer cites that are gold (answered answerable questions).
- cited_recall: share of gold papers that the answer cites.
- citation_recall (ALCE): share of answer sentences whose cited sources, together, support them.
- citation_precision (ALCE): share of citations that are needed: the cited source supports the
  sentence alone, or the sentence is no longer supported without it.
- fact_recall: share of the gold answer facts present in the answer (a fact counts when at least
  60% of its content words appear in the answer text), over answered answerable questions;
  fact_recall_multi the same over multi-paper ones; facts_given over all answerable questions,
  a refusal giving none.
- refusal_rate: share of unanswerable questions refused; false_refusal_rate: share of answerable
  questions refused.
- latency p50/p95, ttft p50/p95 (seconds) and prompt tokens (mean), over answered calls.
"""
from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable
from itertools import zip_longest
from pathlib import Path

from .config import PROJECT_DIR
from .lexical import tokenize
from .types import Answer, Hit

QUESTIONS_FILE = PROJECT_DIR / "eval" / "questions.jsonl"
# the question sets `rag eval --set` runs: the original one and the one written the way researchers ask
QUESTION_SETS = {"questions": QUESTIONS_FILE, "natural": PROJECT_DIR / "eval" / "natural" / "questions.jsonl"}


def question_type(question: dict) -> str:
    """The original set's type (single, multi, unanswerable), or the natural set's style mapped onto it."""
    if "type" in question:
        return question["type"]
    return "unanswerable" if not question["gold"] else "multi" if len(question["gold"]) > 1 else "single"


def load_questions(path: Path = QUESTIONS_FILE, limit: int | None = None, split: str | None = None) -> list[dict]:
    """All questions (of one split: train, dev or test), or the first `limit` taken in turn from each
    type so a subset mixes them."""
    questions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    questions = [dict(q, type=question_type(q)) for q in questions if split is None or q.get("split") == split]
    if not limit:
        return questions
    by_type: dict[str, list[dict]] = {}
    for q in questions:
        by_type.setdefault(q["type"], []).append(q)
    interleaved = [q for group in zip_longest(*by_type.values()) for q in group if q]
    return interleaved[:limit]


def recall_at_k(hits: list[Hit], gold: list[str]) -> float:
    found = {h.paper_id for h in hits}
    return sum(g in found for g in gold) / len(gold)


def reciprocal_rank(hits: list[Hit], gold: list[str]) -> float:
    for rank, hit in enumerate(hits, start=1):
        if hit.paper_id in gold:
            return 1.0 / rank
    return 0.0


def retrieval_quality(retriever, questions: list[dict], k: int) -> tuple[float, float]:
    """Mean recall@k and MRR of a retriever over questions with gold papers."""
    recalls, ranks = [], []
    for q in questions:
        hits = retriever.search(q["question"], k=k)
        recalls.append(recall_at_k(hits, q["gold"]))
        ranks.append(reciprocal_rank(hits, q["gold"]))
    return mean(recalls), mean(ranks)


def fact_found(fact: str, answer_text: str) -> bool:
    words = set(tokenize(fact))
    return bool(words) and len(words & set(tokenize(answer_text))) / len(words) >= 0.6


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# a function word right before a full stop (or a spaced comma), a marker or a verb: a removed noun left a hole
# ("which LMs could focus on, rather than" is English)
HOLE = re.compile(r"\b(in|by|of|from|see|with|than|to|on|the|as|like|following|and)\s*(?:[.;:!?]|\s,|\[\d|\b(?:is|are|was|were|matches|shows|uses)\b)"
                  r"|\b(is|are|was|were)\s*(?:\[\d+\]\s*)+[.!?]?$", re.IGNORECASE)
# the verdict an answer opens with
VERDICT_SAID = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
# a name said twice in a row ("LISA LISA uses"): a marker turned into the name it followed
REPEATED_NAME = re.compile(r"\b([A-Z][\w.-]*(?:\s+[\w.:-]+){0,8})\s+\1\b")


def broken_sentences(text: str) -> int:
    from .support import split_sentences
    return sum(bool(HOLE.search(sentence) or REPEATED_NAME.search(sentence)) for sentence in split_sentences(text))


def invalid_markers(text: str, n_sources: int) -> int:
    from .cite import markers_in
    return sum(not 1 <= n <= n_sources for n in markers_in(text))


def alce_citation_scores(answer: Answer, checker) -> tuple[list[float], list[float]]:
    """Per sentence: 1 if its cited sources support it; per citation: 1 if it is needed."""
    from .cite import attach_trailing_markers, markers_in, source_texts, strip_markers, supported_by
    from .compose import claim_of
    from .support import split_sentences
    sentence_scores, citation_scores = [], []
    claims = [claim_of(s) for s in split_sentences(attach_trailing_markers(answer.text))]
    for sentence in filter(None, claims):
        cited = [n for n in dict.fromkeys(markers_in(sentence)) if 1 <= n <= len(answer.contexts)]
        text = strip_markers(sentence)
        results = checker.check_many(text, source_texts(answer.contexts), figures_copied=True, cited=cited)
        sentence_scores.append(float(bool(supported_by(text, cited, answer.contexts, checker, results))))
        for n in cited:
            alone = results[n - 1].score >= checker.threshold
            others = supported_by(text, [m for m in cited if m != n], answer.contexts, checker, results)
            citation_scores.append(float(alone or not others))
    return sentence_scores, citation_scores


def score_answer(question: dict, answer: Answer, checker=None) -> dict:
    """One result row: the question, the answer and every per-question metric."""
    gold = question["gold"]
    cited = {c.paper_id for c in answer.citations}
    row = {
        "id": question["id"], "type": question["type"], "question": question["question"],
        "answer": answer.text, "refused": answer.refused, "raw_answer": answer.raw_text,
        "cited_papers": sorted(cited), "gold": gold, "context_papers": [h.paper_id for h in answer.contexts],
        "invalid_markers": invalid_markers(answer.text, len(answer.contexts)),
        "raw_invalid_markers": invalid_markers(answer.raw_text, len(answer.contexts)),
        "broken_sentences": 0 if answer.refused else broken_sentences(answer.text),
        "timings": answer.timings, "prompt_tokens": answer.prompt_tokens, "style": question.get("style", question["type"]),
        "rejected": answer.rejected, "judge_calls": answer.judge_calls, "judge_tokens": answer.judge_tokens,
        "words": 0 if answer.refused else len(answer.text.split()),
    }
    if question.get("verdict"):
        said = VERDICT_SAID.match(answer.text)
        row["verdict"] = ("none" if said is None else
                          "right" if said.group(1).lower() == question["verdict"] else "reversed")
    if gold:
        row["recall_at_k"] = recall_at_k(answer.contexts, gold)
        row["mrr"] = reciprocal_rank(answer.contexts, gold)
        row["facts_given"] = 0.0 if answer.refused else mean(fact_found(f, answer.text) for f in question["facts"])
        if not answer.refused:
            row["fact_recall"] = row["facts_given"]
            if cited:
                row["cited_precision"] = len(cited & set(gold)) / len(cited)
                row["cited_recall"] = len(cited & set(gold)) / len(gold)
    if checker is not None and not answer.refused:
        sentences, citations = alce_citation_scores(answer, checker)
        row["citation_recall"] = mean(sentences)
        row["citation_precision"] = mean(citations)
    return row


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["gold"]]
    unanswerable = [r for r in rows if not r["gold"]]
    answered = [r for r in rows if not r["refused"]]

    def avg(key, pool=rows):
        return mean(r[key] for r in pool if r.get(key) is not None)

    totals = [r["timings"].get("total", 0.0) for r in rows]
    verdicts = [r["verdict"] for r in rows if "verdict" in r]
    rejected: dict[str, int] = {}
    for r in rows:
        for reason, count in r.get("rejected", {}).items():
            rejected[reason] = rejected.get(reason, 0) + count
    ttfts = [r["timings"]["ttft"] for r in rows if r["timings"].get("ttft")]
    return {
        "questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "recall_at_k": avg("recall_at_k"), "mrr": avg("mrr"),
        "invalid_markers": sum(r["invalid_markers"] for r in rows),
        "raw_invalid_markers": sum(r["raw_invalid_markers"] for r in rows),
        "broken_sentences": sum(r.get("broken_sentences", 0) for r in rows),
        "cited_precision": avg("cited_precision"), "cited_recall": avg("cited_recall"),
        "citation_recall": avg("citation_recall"), "citation_precision": avg("citation_precision"),
        "fact_recall": avg("fact_recall"), "facts_given": avg("facts_given"),
        "fact_recall_multi": avg("fact_recall", [r for r in rows if r["type"] == "multi"]),
        "refusal_rate": mean(r["refused"] for r in unanswerable),
        "false_refusal_rate": mean(r["refused"] for r in answerable),
        "latency_p50": median(totals), "latency_p95": percentile(totals, 0.95),
        "ttft_p50": median(ttfts), "ttft_p95": percentile(ttfts, 0.95),
        "prompt_tokens": avg("prompt_tokens", answered),
        "verdict_right": mean(v == "right" for v in verdicts), "verdict_reversed": sum(v == "reversed" for v in verdicts),
        "judge_calls": avg("judge_calls"), "judge_tokens": avg("judge_tokens"),
        "words_p50": median([r["words"] for r in answered]),
        "rejected": rejected,
    }


SUMMARY_ROWS = [
    ("recall_at_k", "retrieval recall@k"), ("mrr", "retrieval MRR"),
    ("invalid_markers", "markers outside the sources (final)"), ("raw_invalid_markers", "markers outside the sources (raw model reply)"),
    ("broken_sentences", "broken sentences (a hole where a word was)"),
    ("cited_precision", "cited-paper precision"), ("cited_recall", "cited-paper recall"),
    ("citation_recall", "ALCE citation recall"), ("citation_precision", "ALCE citation precision"),
    ("fact_recall", "answer-fact recall (answered)"), ("fact_recall_multi", "answer-fact recall, multi-paper (answered)"),
    ("facts_given", "answer-fact recall (all answerable, a refusal gives none)"), ("refusal_rate", "refusal rate, unanswerable"),
    ("false_refusal_rate", "false-refusal rate, answerable"),
    ("latency_p50", "latency p50 (s)"), ("latency_p95", "latency p95 (s)"),
    ("ttft_p50", "time to first token p50 (s)"), ("ttft_p95", "time to first token p95 (s)"),
    ("prompt_tokens", "prompt tokens (mean)"),
    ("verdict_right", "yes/no verdict right"), ("verdict_reversed", "yes/no verdicts reversed"),
    ("judge_calls", "judge calls per answer (mean)"), ("judge_tokens", "judge prompt tokens read anew per answer (mean)"),
    ("words_p50", "words per answer, median (answered)"),
]


def fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_table(summary: dict) -> str:
    lines = ["| metric | value |", "|---|---|"]
    lines += [f"| {label} | {fmt(summary.get(key))} |" for key, label in SUMMARY_ROWS]
    lines += [f"| sentences rejected: {reason} | {count} |" for reason, count in sorted(summary.get("rejected", {}).items())]
    return "\n".join(lines)


def run_eval(settings, limit: int | None = None, k: int | None = None, show_progress: bool | None = None,
             question_set: str = "questions", split: str | None = None) -> dict:
    """Ask every question of a set (QUESTION_SETS; of one split), score it, and return {"settings", "rows", "summary"}."""
    from tqdm import tqdm

    from .answer import ask, warm_up
    from .support import get_checker
    warm_up(settings)  # the model's prefill rate, and so the prompt budget, is known from the first question on
    checker = get_checker(settings)
    rows = []
    questions = load_questions(QUESTION_SETS[question_set], limit=limit, split=split)
    for question in tqdm(questions, desc="eval", unit="question", disable=None if show_progress is None else not show_progress):
        history = [tuple(turn) for turn in question.get("history") or []]
        answer = ask(question["question"], k=k, history=history or None, settings=settings)
        rows.append(score_answer(question, answer, checker))
    run_settings = {"llm": settings.llm, "k": k or settings.k, "chunk_size": settings.chunk_size,
                    "context": settings.context, "limit": limit, "set": question_set, "split": split,
                    "judge": settings.judge, "judge_offset": settings.judge_offset}
    return {"settings": run_settings, "rows": rows, "summary": summarise(rows)}


def worst_rows(rows: list[dict], n: int = 8) -> list[dict]:
    """False refusals, wrong refusals on unanswerable questions, then the lowest fact recall."""
    def badness(row):
        if row["gold"] and row["refused"]:
            return 3.0
        if not row["gold"] and not row["refused"]:
            return 2.5
        return 2.0 - (row.get("cited_precision") or 0) - (row.get("fact_recall") or 0)
    return sorted(rows, key=badness, reverse=True)[:n]


def write_report(result: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    lines = ["# Eval report", "", f"Settings: `{json.dumps(result['settings'])}`", "",
             summary_table(result["summary"]), "", "## Worst questions", ""]
    for row in worst_rows(result["rows"]):
        lines += [f"### {row['id']} ({row['type']}{', refused' if row['refused'] else ''})",
                  f"Q: {row['question']}", "", f"A: {row['answer']}", "",
                  f"gold: {row['gold']}, cited: {row['cited_papers']}", ""]
    (out_dir / "report.md").write_text("\n".join(lines))
    write_chart(result["summary"], out_dir / "metrics.png")


def write_chart(summary: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = ["recall_at_k", "mrr", "cited_precision", "cited_recall", "citation_recall", "citation_precision",
            "fact_recall", "refusal_rate", "false_refusal_rate"]
    values = [summary.get(k) or 0.0 for k in keys]
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.barh(keys[::-1], values[::-1], color="#4a7ab5")
    axis.set_xlim(0, 1)
    axis.set_title(f"grounding eval: {summary['questions']} questions")
    for y, value in enumerate(values[::-1]):
        axis.text(min(value + 0.01, 0.93), y, f"{value:.2f}", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def compare(first: Path, second: Path) -> str:
    """The summary metrics of two runs side by side, with their difference."""
    a, b = (json.loads((p / "results.json").read_text()) for p in (first, second))
    lines = [f"{'metric':44}{first.name:>14}{second.name:>14}{'diff':>10}"]
    for key, label in SUMMARY_ROWS:
        x, y = a["summary"].get(key), b["summary"].get(key)
        diff = f"{y - x:+.3f}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) else "-"
        lines.append(f"{label:44}{fmt(x):>14}{fmt(y):>14}{diff:>10}")
    return "\n".join(lines)
