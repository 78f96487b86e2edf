"""`rag eval` with the model's replies kept by prompt, so answer stages can be compared on the same drafts.

    python eval/replay_eval.py OUT_DIR [--limit N] [--replies FILE] [--no-call] [--as-rate R]

Every reply the model gives is appended to FILE (default eval/results/replies.jsonl) under a hash of
its model and prompt; a prompt seen before gets its kept reply instead of a model call. Run it once
at one commit (the model answers every prompt), then at another from that commit's checkout with the
same FILE: where the prompts are the same (the same retrieval and prompt budget; set
RAG_FIRST_TOKEN_TARGET_S=none, since the budget follows the measured speed), both runs read the same
drafts and differ only in what the pipeline does with them. --no-call never calls the model (a prompt
without a kept reply gets an empty one, counted as a miss). Timings of a replayed run mean nothing.
The run is the current directory's `rag` package, so a checkout of another commit runs its own code.
--as-rate R sizes the prompt budget as a host whose model reads R prompt tokens a second would (22:
the slowest host seen; RAG_ASSUMED_PREFILL_RATE), so the slow host's prompts are answered here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())

import rag.answer as answer_stage  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.evaluate import run_eval, summary_table, write_report  # noqa: E402

real_stream = answer_stage.stream_tokens


def reply_key(model, messages, options: dict) -> str:
    prompt = getattr(model, "model_path", type(model).__name__) + "\n".join(f"{m.type}:{m.content}" for m in messages)
    return hashlib.sha256((prompt + "".join(f"\n{k}:{v}" for k, v in sorted(options.items()))).encode()).hexdigest()


def replaying(path: Path, call_model: bool, counts: dict):
    kept = {}
    if path.exists():
        kept = {row["key"]: row["reply"] for row in map(json.loads, path.read_text().splitlines())}

    def stream_tokens(model, messages, **options):
        key = reply_key(model, messages, options)
        if key in kept:
            counts["reused"] += 1
            yield kept[key]
            return
        counts["new"] += 1
        if not call_model:
            return
        pieces = []
        try:
            for piece in real_stream(model, messages, **options):
                pieces.append(piece)
                yield piece
        finally:  # a reader that stops early (the lead sentence) keeps what it read
            kept[key] = "".join(pieces)
            with path.open("a") as out:
                out.write(json.dumps({"key": key, "reply": kept[key]}) + "\n")
    return stream_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output folder (results.json, report.md)")
    parser.add_argument("--limit", type=int, default=None, help="the first N questions, types interleaved")
    parser.add_argument("--replies", default="eval/results/replies.jsonl", help="where the model's replies are kept")
    parser.add_argument("--no-call", action="store_true", help="use kept replies only, never the model")
    parser.add_argument("--as-rate", type=float, default=None, help="size the prompt budget as if the model read "
                        "this many prompt tokens a second (22: the slowest host seen), whatever this host measures")
    args = parser.parse_args()
    replies, out = Path(args.replies), Path(args.out)
    replies.parent.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"reused": 0, "new": 0}
    answer_stage.stream_tokens = replaying(replies, not args.no_call, counts)
    settings = get_settings(**({"assumed_prefill_rate": args.as_rate} if args.as_rate else {}))
    result = run_eval(settings, limit=args.limit, show_progress=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    write_report(result, out)
    print(summary_table(result["summary"]))
    print(f"replies reused: {counts['reused']}, new prompts: {counts['new']}"
          + (" (no model called: their replies were empty)" if args.no_call and counts["new"] else ""))


if __name__ == "__main__":
    main()
