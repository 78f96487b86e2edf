"""Decode speed with and without prompt-lookup decoding, on the answer prompts of the eval questions.

    python bench/decode.py [--limit 8] [--draft 10] [--threads N]

Answers copy from their sources, so llama.cpp's prompt-lookup decoding (draft tokens found by
matching the last tokens against the prompt, checked in one pass) may accept long runs. Two copies
of the default local model, one plain and one with --draft tokens of prompt lookup, answer each of
the first N answerable eval questions in turn (the same prompt: retrieval and budget as settings
give them), so both meet the same load. Per question: prompt tokens, generated tokens, seconds to
the first token and decode tokens a second after it, and whether the two replies are the same
(greedy decoding: they should be). No verification runs: this is about the model's speed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import get_settings, ingest  # noqa: E402
from rag.answer import current_budget, relevant_hits  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.llm import make_llm  # noqa: E402
from rag.prompt import answer_messages  # noqa: E402


def timed_reply(model, messages) -> dict:
    started, first, pieces = time.perf_counter(), None, []
    for chunk in model.stream(messages):
        first = first or time.perf_counter()
        pieces.append(chunk.content)
    ended = time.perf_counter()
    text = "".join(pieces)
    generated = model.count_tokens(text)
    return {"text": text, "ttft": (first or ended) - started, "generated": generated,
            "decode_rate": (generated - 1) / (ended - first) if first and ended > first and generated > 1 else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--draft", type=int, default=10, help="prompt-lookup draft tokens")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: all cores)")
    args = parser.parse_args()
    settings = get_settings().model_copy(update={"n_threads": args.threads, "first_token_target_s": None})
    ingest(settings=settings, show_progress=False)
    models = {"plain": make_llm(settings),
              f"lookup {args.draft}": make_llm(settings.model_copy(update={"prompt_lookup_tokens": args.draft}))}
    for model in models.values():
        model.invoke("Say OK.", max_tokens=2)  # load and warm up
    rows = {name: [] for name in models}
    questions = [q for q in load_questions() if q["gold"]][:args.limit]
    for q in questions:
        hits = relevant_hits(q["question"], current_budget(settings.k, settings), None, settings)
        messages = answer_messages(q["question"], hits)
        prompt = models["plain"].count_tokens("\n".join(m.content for m in messages))
        replies = {name: timed_reply(model, messages) for name, model in models.items()}
        same = len({r["text"] for r in replies.values()}) == 1
        for name, reply in replies.items():
            rows[name].append(reply)
        print(f"{q['id']}: prompt {prompt} tokens; " + "; ".join(
            f"{name}: {r['generated']} tokens, first {r['ttft']:.2f} s, {r['decode_rate'] or 0:.1f} tok/s"
            for name, r in replies.items()) + ("" if same else "  (replies differ)"), flush=True)
    print("\n| decoding | first token median (s) | decode tok/s median | ratio to plain |")
    print("|---|---|---|---|")
    plain = statistics.median(r["decode_rate"] for r in rows["plain"] if r["decode_rate"])
    for name, replies in rows.items():
        rate = statistics.median(r["decode_rate"] for r in replies if r["decode_rate"])
        ttft = statistics.median(r["ttft"] for r in replies)
        print(f"| {name} | {ttft:.2f} | {rate:.1f} | {rate / plain:.2f}x |")


if __name__ == "__main__":
    main()
