"""The product's own sentences, for labelling: each question's draft answer, split into sentences.

    python eval/make_product_claims.py [--model local|local-fast] [--limit N] [--sets questions,natural]

For every question of eval/questions.jsonl and eval/natural/questions.jsonl, the product's own
retrieval and answer prompt (rag.answer.relevant_hits, rag.prompt.answer_messages, a follow-up's
history condensed as ask does), and the model's reply before verification. Writes
eval/claims/drafts-MODEL.jsonl (one line a question: the hits the model read and its reply) and
eval/claims/pairs-MODEL.jsonl (one line per sentence and cited source: the sentence without its
markers, the cited paper's title and whole abstract). A run goes on where a previous one stopped.
The labels are added by reading (eval/claims/README.md), never by this script.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag.answer import current_budget, relevant_hits, standalone_question  # noqa: E402
from rag.cite import attach_trailing_markers, markers_in, strip_markers  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.generate import generate  # noqa: E402
from rag.llm import get_llm  # noqa: E402
from rag.prompt import answer_messages  # noqa: E402
from rag.support import split_sentences  # noqa: E402

EVAL = Path(__file__).resolve().parent
SETS = {"questions": EVAL / "questions.jsonl", "natural": EVAL / "natural" / "questions.jsonl"}
OUT = EVAL / "claims"


def questions(names: list[str]) -> list[dict]:
    found = []
    for name in names:
        for line in SETS[name].read_text().splitlines():
            if line.strip():
                q = json.loads(line)
                found.append(dict(q, set=name, style=q.get("style") or q.get("type")))
    return found


def draft(q: dict, settings) -> dict:
    history = [tuple(turn) for turn in q.get("history") or []]
    standalone = standalone_question(q["question"], history, settings)
    hits = relevant_hits(standalone, current_budget(settings.k, settings), None, settings)
    reply = generate(get_llm(settings), answer_messages(standalone, hits)) if hits else ""
    return {"qid": q["id"], "set": q["set"], "split": q.get("split"), "style": q["style"], "question": q["question"],
            "history": history, "standalone": standalone, "reply": reply,
            "hits": [{"n": n, "paper_id": h.paper_id, "title": h.title, "text": h.text, "abstract": h.abstract}
                     for n, h in enumerate(hits, 1)]}


def cited_numbers(sentences: list[str], n_hits: int) -> list[list[int]]:
    """Each sentence's markers; a sentence without one takes those of the next marked sentence (a marker
    closing a paragraph cites it all), else of the one before."""
    own = [[n for n in dict.fromkeys(markers_in(s)) if 1 <= n <= n_hits] for s in sentences]
    cited = []
    for i, markers in enumerate(own):
        after = next((m for m in own[i:] if m), None)
        before = next((m for m in reversed(own[:i]) if m), [])
        cited.append(markers or after or before)
    return cited


def pairs(record: dict, model: str) -> list[dict]:
    rows = []
    sentences = split_sentences(attach_trailing_markers(record["reply"]))
    for i, (sentence, cited) in enumerate(zip(sentences, cited_numbers(sentences, len(record["hits"])))):
        for n in cited:
            hit = record["hits"][n - 1]
            rows.append({"pair_id": f"{model}:{record['qid']}:{i}:{n}", "qid": record["qid"], "set": record["set"],
                         "split": record["split"], "style": record["style"], "model": model, "origin": "draft",
                         "question": record["standalone"], "sentence": strip_markers(sentence),
                         "own_marker": bool(markers_in(sentence)), "n": n, "paper_id": hit["paper_id"],
                         "title": hit["title"], "abstract": hit["abstract"]})
    return [row for row in rows if len(row["sentence"].split()) >= 3]


def write_pairs(drafts: Path, pair_file: Path, model: str) -> int:
    """pairs-MODEL.jsonl anew from every draft so far."""
    rows = [row for line in drafts.read_text().splitlines() for row in pairs(json.loads(line), model)]
    pair_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="local", choices=["local", "local-fast"])
    parser.add_argument("--sets", default="questions,natural")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    settings = get_settings(llm=args.model, first_token_target_s=None)
    OUT.mkdir(exist_ok=True)
    drafts, pair_file = OUT / f"drafts-{args.model}.jsonl", OUT / f"pairs-{args.model}.jsonl"
    done = {json.loads(line)["qid"] for line in drafts.read_text().splitlines()} if drafts.exists() else set()
    todo = [q for q in questions(args.sets.split(",")) if q["id"] not in done][:args.limit]
    started = time.perf_counter()
    for i, q in enumerate(todo, 1):
        record = draft(q, settings)
        with drafts.open("a") as out:
            out.write(json.dumps(record) + "\n")
        elapsed = time.perf_counter() - started
        print(f"{i}/{len(todo)} {q['id']} {elapsed:.0f}s, about {elapsed / i * (len(todo) - i):.0f}s left", flush=True)
    print(f"{write_pairs(drafts, pair_file, args.model)} pairs in {pair_file}")


if __name__ == "__main__":
    main()
