"""Evidence selection: one character budget shared by all sources, more from the better ones."""
from __future__ import annotations

from rag.evidence import question_parts, select_evidence
from rag.types import Hit

KV = ("We quantize the key-value cache of transformer language models to 2 bits. "
      "This reduces the memory of long-context inference by 8 times. "
      "Accuracy on LongBench drops by less than one point. "
      "The method needs no retraining and works with any attention kernel.")
MOE = ("We train a mixture-of-experts model with 64 experts for machine translation. "
       "Routing each token to two experts keeps the compute per token constant. "
       "The model improves BLEU by 2.1 points over a dense baseline.")


def hit(paper_id: str, abstract: str, score: float) -> Hit:
    return Hit(paper_id=paper_id, title=paper_id, text="", score=score, chunk_id=f"{paper_id}:0", abstract=abstract)


def test_a_multi_part_question_is_split_into_its_parts():
    parts = question_parts("Which method quantizes the cache, and how much memory does it save?")
    assert len(parts) == 2 and "memory" in parts[1] and "memory" not in parts[0]


def test_every_source_keeps_its_best_sentence_and_the_budget_holds():
    chosen = select_evidence("How much memory does quantizing the key-value cache save?",
                             [hit("kv", KV, 1.0), hit("moe", MOE, 0.3)], budget=200)
    assert "8 times" in chosen[0] and chosen[1]
    assert sum(len(text) for text in chosen) <= 200 + max(len(s) for s in MOE.split(". "))


def test_the_best_source_gives_more_than_a_weak_one():
    chosen = select_evidence("How does the model reduce memory and keep accuracy?",
                             [hit("kv", KV, 1.0), hit("moe", MOE, 0.2)], budget=300)
    assert len(chosen[0]) > len(chosen[1])


def test_a_short_best_abstract_that_fits_is_given_whole():
    chosen = select_evidence("How many experts does the translation model use?",
                             [hit("moe", MOE, 1.0), hit("kv", KV, 0.5)], budget=1000)
    assert chosen[0] == MOE
