"""The eval set is sound: every gold id exists in the parsed corpus and every fact is in its gold abstract."""
from __future__ import annotations

import json
from collections import Counter

from rag.config import PROJECT_DIR, Settings
from rag.load import load_papers

QUESTIONS = [json.loads(line) for line in (PROJECT_DIR / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]


def test_eval_set_has_the_required_mix():
    counts = Counter(q["type"] for q in QUESTIONS)
    assert len(QUESTIONS) >= 80
    assert counts["single"] >= 50 and counts["multi"] >= 10 and counts["unanswerable"] >= 18
    assert len({q["id"] for q in QUESTIONS}) == len(QUESTIONS)


def test_gold_ids_exist_and_facts_occur_in_gold_abstracts():
    papers, _ = load_papers([Settings().corpus_dir])
    abstracts = {p.paper_id: p.abstract for p in papers}
    for q in QUESTIONS:
        expected_gold = {"single": 1, "multi": (2, 3), "unanswerable": 0}[q["type"]]
        assert len(q["gold"]) in (expected_gold if isinstance(expected_gold, tuple) else (expected_gold,)), q["id"]
        for paper_id in q["gold"] + ([q["near"]] if q.get("near") else []):
            assert paper_id in abstracts, f"{q['id']}: unknown paper id {paper_id}"
        for fact in q["facts"]:
            assert any(fact in abstracts[g] for g in q["gold"]), f"{q['id']}: fact not in gold abstract: {fact!r}"
        assert bool(q["facts"]) == (q["type"] != "unanswerable"), q["id"]
