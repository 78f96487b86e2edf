"""Evidence selection: which abstract sentences the model reads, within one character budget for all
sources. Each sentence is scored by the words it shares with the question and with each part of a
multi-part question, plus a small bonus for a number, and weighted by its source's retrieval score,
so the best source gives more and weak ones less. Every source keeps its best sentence; a short
abstract that fits is given whole."""
from __future__ import annotations

import re

from .support import content_words, split_sentences
from .types import Hit

NUMBER_BONUS = 0.1  # questions mostly ask for results
# where one question asks several things: "..., and how much memory ...", "...; what speed-up ..."
PART_BREAK = re.compile(r"[;?]|,?\s+and\s+(?=(?:(?:by|up to|to|on|in|at|for)\s+)?"
                        r"(?:how|what|which|why|when|where|who|does|do|did|is|are|was|were|can)\b)"
                        r"|,\s+(?=(?:(?:by|up to|to|on|in|at|for)\s+)?(?:how|what|which|why|when|where|who)\b)",
                        re.IGNORECASE)
WHOLE_ABSTRACT_SHARE = 0.5  # an abstract no longer than this share of the budget may be given whole


def question_parts(question: str) -> list[set[str]]:
    parts = [content_words(p) for p in PART_BREAK.split(question)]
    return [p for p in parts if p] or [content_words(question)]


def relevance(sentence: str, asked: set[str], parts: list[set[str]]) -> float:
    said = content_words(sentence)
    whole = len(asked & said) / max(1, len(asked))
    best_part = max(len(part & said) / len(part) for part in parts)
    return whole + best_part + (NUMBER_BONUS if re.search(r"\d", sentence) else 0.0)


def source_weights(hits: list[Hit]) -> list[float]:
    best = max((h.score for h in hits), default=0.0)
    return [h.score / best if best > 0 else 1.0 for h in hits]


def select_evidence(question: str, hits: list[Hit], budget: int) -> list[str]:
    """For each hit, the sentences of its abstract the model reads, in their own order."""
    asked, parts = content_words(question), question_parts(question)
    sentences = [split_sentences(h.abstract or h.text) or [h.abstract or h.text] for h in hits]
    ranked = sorted(((weight * relevance(s, asked, parts), i, j)
                     for i, (weight, source) in enumerate(zip(source_weights(hits), sentences))
                     for j, s in enumerate(source)), reverse=True)
    chosen: list[set[int]] = [set() for _ in hits]
    for _, i, j in ranked:  # each source's best sentence first
        if not chosen[i]:
            chosen[i].add(j)
    used = sum(len(sentences[i][j]) for i, picked in enumerate(chosen) for j in picked)
    for i, source in enumerate(sentences):
        rest = sum(len(s) for j, s in enumerate(source) if j not in chosen[i])
        if i == 0 and len(" ".join(source)) <= WHOLE_ABSTRACT_SHARE * budget and used + rest <= budget:
            chosen[i] = set(range(len(source)))
            used += rest
    for _, i, j in ranked:
        if j not in chosen[i] and used + len(sentences[i][j]) <= budget:
            chosen[i].add(j)
            used += len(sentences[i][j])
    return [" ".join(source[j] for j in sorted(picked)) for source, picked in zip(sentences, chosen)]
