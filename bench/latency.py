"""Time to evidence, time to first token and total time of rag.ask_stream, in a warm process.

    python bench/latency.py [--limit 20] [--llm local-fast] [--index-dir DIR] [--evidence-only]

First rag.warm_up (model loaded, the prompt's fixed start prefilled, retriever loaded), then the
first N eval questions one after another. Per question and as medians: seconds from calling
ask_stream to its first item (the Evidence: sources and their closest sentences), to the first
answer text, and to the final Answer, with the answer prompt's tokens. --evidence-only stops each
stream after its Evidence (no LLM). An empty index is filled with the bundled corpus first.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import Evidence, ask_stream, get_settings, index_stats, ingest, warm_up  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402

COLUMNS = ["evidence", "first_token", "total", "prompt_tokens"]


def timed(question: str, settings, evidence_only: bool) -> dict:
    row = dict.fromkeys(COLUMNS)
    started = time.perf_counter()
    for part in ask_stream(question, settings=settings):
        elapsed = time.perf_counter() - started
        if isinstance(part, Evidence):
            row["evidence"] = elapsed
            if evidence_only:
                break
        elif isinstance(part, str):
            row["first_token"] = row["first_token"] or elapsed
        else:
            row.update(total=elapsed, prompt_tokens=part.prompt_tokens or None)
    return row


def fmt(value) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.3f}"


def median(rows: list[dict], column: str) -> str:
    values = [r[column] for r in rows if r[column] is not None]
    if not values:
        return "-"
    middle = statistics.median(values)
    return f"{round(middle) if column == 'prompt_tokens' else round(middle, 3)} (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20, help="the first N eval questions (mixed types)")
    parser.add_argument("--llm", default=None, help="local, local-fast, openai or a .gguf path (default: RAG_LLM)")
    parser.add_argument("--index-dir", default=None, help="index folder (default: RAG_INDEX_DIR)")
    parser.add_argument("--evidence-only", action="store_true", help="time only the Evidence; the LLM is not called")
    args = parser.parse_args()
    overrides = {"llm": args.llm, "index_dir": args.index_dir}
    settings = get_settings(**{name: value for name, value in overrides.items() if value})
    if index_stats(settings)["chunks"] == 0:
        print(ingest(settings=settings).summary(), file=sys.stderr)
    started = time.perf_counter()
    warm_up(settings)
    print(f"warm-up {time.perf_counter() - started:.1f}s, model {settings.llm}, index {settings.index_dir}")
    rows = []
    for q in load_questions(limit=args.limit):
        rows.append(timed(q["question"], settings, args.evidence_only))
        print(f"  {q['id']} " + " ".join(f"{c}={fmt(rows[-1][c])}" for c in COLUMNS), flush=True)
    print(f"median over {len(rows)} questions (seconds; prompt tokens):")
    for column in COLUMNS:
        print(f"  {column:14} {median(rows, column)}")


if __name__ == "__main__":
    main()
