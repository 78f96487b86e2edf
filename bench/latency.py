"""Time to evidence, time to first token and total time of rag.ask_stream, in a warm process.

    python bench/latency.py [--limit 20] [--llm local-fast] [--index-dir DIR] [--evidence-only]
    python bench/latency.py --budget [--threads 1] [--limit 8] [--target 8] [--as-rate 22]

First rag.warm_up (model loaded, the prompt's fixed start prefilled, retriever loaded), then the
first N eval questions one after another. Per question and as medians: seconds from calling
ask_stream to its first item (the Evidence: sources and their closest sentences), to the first
answer text, and to the final Answer, with the answer prompt's tokens. --evidence-only stops each
stream after its Evidence (no LLM). An empty index is filled with the bundled corpus first.

--budget compares, in one process and at --threads llama.cpp threads (1 is a slow host), today's
prompt (every source at context_chars: first_token_target_s unset) with the prompt sized from the
measured prefill rate (first_token_target_s as set), question by question in turn so both meet the
same load; and the first question after start (model loaded, then rag.warm_up) with the same
question asked again from the same cached prompt start, both with today's prompt, so both read the
same prompt tokens. --as-rate R sizes the budgeted prompt as the slow host's measured rate would
(22 tokens a second: the same prompts as there; only the seconds are this host's;
RAG_ASSUMED_PREFILL_RATE). It also counts the budgeted answers that began otherwise than the first
sentence streamed from the best source (LEAD_NOTE: the user saw that sentence, then the answer).

--judge compares, in one process and question by question in turn, the support checker without the
judge (the feature regression: RAG_JUDGE=false) with the answer model as judge (the default): whole
answer seconds, prompt tokens, judge calls and the prompt tokens they read anew, per answer; with
--as-rate R, what those judge tokens cost on a host reading R prompt tokens a second.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import Evidence, ask_stream, get_settings, index_stats, ingest, warm_up  # noqa: E402
from rag.answer import LEAD_NOTE  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402

COLUMNS = ["evidence", "first_token", "total", "prompt_tokens"]
JUDGE_COLUMNS = ["total", "prompt_tokens", "judge_calls", "judge_tokens"]


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
            row.update(total=elapsed, prompt_tokens=part.prompt_tokens or None, lead_note=LEAD_NOTE in part.raw_text,
                       judge_calls=part.judge_calls, judge_tokens=part.judge_tokens)
    return row


def fmt(value) -> str:
    return "-" if value is None else str(value) if isinstance(value, int) else f"{value:.3f}"


def median(rows: list[dict], column: str) -> str:
    values = [r[column] for r in rows if r[column] is not None]
    if not values:
        return "-"
    middle = statistics.median(values)
    return f"{round(middle) if column == 'prompt_tokens' else round(middle, 3)} (n={len(values)})"


def budget_comparison(settings, questions: list[dict]) -> None:
    from rag.answer import current_budget
    from rag.llm import get_llm
    from rag.prompt import answer_prompt_start
    paths = {"budget": settings, "today": settings.model_copy(update={"first_token_target_s": None})}
    started = time.perf_counter()
    warm_up(settings)
    print(f"warm-up {time.perf_counter() - started:.1f}s at {settings.n_threads or 'all'} threads, "
          f"prefill {get_llm(settings).prefill_rate:.1f} tokens/s")
    rows: dict[str, list[dict]] = {name: [] for name in paths}
    model = get_llm(settings)

    def from_fixed_start(question: str, path_settings) -> dict:
        model.invoke(answer_prompt_start(), max_tokens=1)  # the cache holds the fixed start only, as for a new question
        return timed(question, path_settings, evidence_only=False)
    # today's prompt: a budget would follow the running prefill rate, and could differ between the two
    first, again = (from_fixed_start(questions[0]["question"], paths["today"]) for _ in range(2))
    for q in questions:
        for name, path_settings in paths.items():
            rows[name].append(from_fixed_start(q["question"], path_settings))
            print(f"  {q['id']} {name:6} " + " ".join(f"{c}={fmt(rows[name][-1][c])}" for c in COLUMNS), flush=True)
    print(f"budget now: {current_budget(settings.k, settings).describe()}")
    print(f"median over {len(questions)} questions (seconds; prompt tokens), and budget / today:")
    for column in COLUMNS[1:]:
        budget, today = (statistics.median(r[column] for r in rows[name] if r[column]) for name in paths)
        print(f"  {column:14} today {today:8.2f}  budget {budget:8.2f}  ratio {budget / today:.2f}")
    notes = sum(r["lead_note"] for r in rows["budget"])
    print(f"  budgeted answers from every source that did not begin with the first sentence shown: {notes} "
          f"of {len(questions)} (the rest streamed on from it)")
    later = statistics.median(r["first_token"] for r in rows["budget"])
    print(f"first question after start: first token {first['first_token']:.2f}s ({first['prompt_tokens']} prompt "
          f"tokens); the same question again {again['first_token']:.2f}s ({again['prompt_tokens']}); first / again "
          f"{first['first_token'] / again['first_token']:.2f}; budgeted median {later:.2f}s")


def judge_comparison(settings, questions: list[dict], rate: float | None) -> None:
    paths = {"features": settings.model_copy(update={"judge": False}), "judge": settings.model_copy(update={"judge": True})}
    for path_settings in paths.values():
        warm_up(path_settings)
    rows: dict[str, list[dict]] = {name: [] for name in paths}
    for q in questions:
        for name, path_settings in paths.items():
            rows[name].append(timed(q["question"], path_settings, evidence_only=False))
            print(f"  {q['id']} {name:8} " + " ".join(f"{c}={fmt(rows[name][-1][c])}" for c in JUDGE_COLUMNS), flush=True)
    print(f"median over {len(questions)} questions, and judge / features:")
    for column in JUDGE_COLUMNS:
        before, after = (statistics.median(r[column] or 0 for r in rows[name]) for name in paths)
        ratio = f"  ratio {after / before:.2f}" if before else ""
        print(f"  {column:14} features {before:8.2f}  judge {after:8.2f}{ratio}")
    totals = sorted(r["total"] for r in rows["judge"])
    print(f"  judge whole answer p95 {totals[min(len(totals) - 1, round(0.95 * (len(totals) - 1)))]:.2f}s")
    if rate:
        tokens = statistics.median(r["judge_tokens"] or 0 for r in rows["judge"])
        print(f"  at {rate:g} prompt tokens/s the judge's median {tokens:.0f} new tokens per answer read in {tokens / rate:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20, help="the first N eval questions (mixed types)")
    parser.add_argument("--llm", default=None, help="local, local-fast, openai or a .gguf path (default: RAG_LLM)")
    parser.add_argument("--index-dir", default=None, help="index folder (default: RAG_INDEX_DIR)")
    parser.add_argument("--evidence-only", action="store_true", help="time only the Evidence; the LLM is not called")
    parser.add_argument("--budget", action="store_true", help="today's prompt beside the one sized from the prefill rate")
    parser.add_argument("--judge", action="store_true", help="the checker without the judge beside the one with it")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: RAG_N_THREADS or all cores)")
    parser.add_argument("--target", type=float, default=None, help="first_token_target_s of the budgeted prompt "
                        "(default: RAG_FIRST_TOKEN_TARGET_S); a smaller one stands in for a slower host")
    parser.add_argument("--as-rate", type=float, default=None, help="size the budgeted prompt as if the model read "
                        "this many prompt tokens a second (22: the slowest host seen), whatever this host measures")
    args = parser.parse_args()
    overrides = {"llm": args.llm, "index_dir": args.index_dir, "n_threads": args.threads,
                 "first_token_target_s": args.target, "assumed_prefill_rate": args.as_rate}
    settings = get_settings(**{name: value for name, value in overrides.items() if value})
    if index_stats(settings)["chunks"] == 0:
        print(ingest(settings=settings).summary(), file=sys.stderr)
    if args.budget:
        return budget_comparison(settings, load_questions(limit=args.limit))
    if args.judge:
        return judge_comparison(settings.model_copy(update={"assumed_prefill_rate": None}), load_questions(limit=args.limit),
                                args.as_rate)
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
