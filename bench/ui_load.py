"""Concurrent questions through the Gradio client API against a running app.

    python app.py &                       # or: rag serve
    python bench/ui_load.py --url http://127.0.0.1:7860/ [--n 10] [--preset default]

Sends n questions at once, each on its own client, and prints how many were
answered without error and the latency percentiles. Target: 10 of 10, no errors.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_client import Client  # noqa: E402

from rag.evaluate import load_questions  # noqa: E402


def ask_once(url: str, question: str, preset: str) -> tuple[bool, float, str]:
    started = time.perf_counter()
    try:
        chat, _sources, _box = Client(url, verbose=False).predict(
            question, [], 4, preset, "any", api_name="/respond")
        reply = chat[-1]["content"] if chat else ""
        reply = reply if isinstance(reply, str) else str(reply)
        return bool(reply) and not reply.startswith("⚠️"), time.perf_counter() - started, reply
    except Exception as err:  # counted as a failure
        return False, time.perf_counter() - started, f"{type(err).__name__}: {err}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--preset", default="default", help="default, fast or hosted")
    args = parser.parse_args()
    questions = [q["question"] for q in load_questions(limit=args.n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.n) as pool:
        results = list(pool.map(lambda q: ask_once(args.url, q, args.preset), questions))
    wall = time.perf_counter() - started
    latencies = sorted(seconds for _, seconds, _ in results)
    answered = sum(ok for ok, _, _ in results)
    print(f"{answered} of {len(results)} answered without error in {wall:.1f}s wall time")
    print(f"latency p50 {statistics.median(latencies):.1f}s, "
          f"p90 {latencies[int(0.9 * (len(latencies) - 1))]:.1f}s, max {latencies[-1]:.1f}s")
    for ok, seconds, reply in results:
        if not ok:
            print(f"  failed after {seconds:.1f}s: {reply[:200]}")


if __name__ == "__main__":
    main()
