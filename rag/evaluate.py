"""Grounding evals: run the eval set through `search`/`ask` and compute the metrics.

Metrics (per question, then averaged over the questions they apply to):
- recall@k: share of a question's gold papers among the papers of the top-k hits.
- MRR: 1 / rank of the first hit from a gold paper (0 when none is in the top k).
- invalid_markers: [n] markers in the final answer that point to no source (must be 0);
  raw_invalid_markers counts them in the model's reply before verification.
- cited_precision: share of the papers an answer cites that are gold (answered answerable questions).
- cited_recall: share of gold papers that the answer cites.
- citation_recall (ALCE): share of answer sentences whose cited sources, together, support them.
- citation_precision (ALCE): share of citations that are needed: the cited source supports the
  sentence alone, or the sentence is no longer supported without it.
- fact_recall: share of the gold answer facts present in the answer (a fact counts when at least
  60% of its content words appear in the answer text).
- refusal_rate: share of unanswerable questions refused; false_refusal_rate: share of answerable
  questions refused.
- latency p50/p95, ttft p50/p95 (seconds) and prompt tokens (mean), over answered calls.
"""
from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path

from .config import PROJECT_DIR
from .retrieve import tokenize
from .types import Answer, Hit

QUESTIONS_FILE = PROJECT_DIR / "eval" / "questions.jsonl"


def load_questions(path: Path = QUESTIONS_FILE, limit: int | None = None) -> list[dict]:
    questions = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return questions[:limit] if limit else questions


def recall_at_k(hits: list[Hit], gold: list[str]) -> float:
    found = {h.paper_id for h in hits}
    return sum(g in found for g in gold) / len(gold)


def reciprocal_rank(hits: list[Hit], gold: list[str]) -> float:
    for rank, hit in enumerate(hits, start=1):
        if hit.paper_id in gold:
            return 1.0 / rank
    return 0.0


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
