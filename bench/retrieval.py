"""Retrieval quality by chunk size and fusion on the eval questions: recall@k and MRR.

    python bench/retrieval.py [--sizes 400 800 1200 4000] [--k 4]

Each size is ingested into its own temporary index from the bundled corpus;
4000 characters keeps every abstract whole. Each index is searched with both
fusions: reciprocal rank fusion (the baseline) and the weighted score fusion.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.config import Settings  # noqa: E402
from rag.evaluate import load_questions, retrieval_quality  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.retrieve import HybridRetriever  # noqa: E402

FUSIONS = ("rrf", "scores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 800, 1200, 4000])
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    questions = [q for q in load_questions() if q["gold"]]
    print(f"{len(questions)} answerable questions, k={args.k}")
    print(f"{'chunk_size':>10} {'overlap':>8} {'chunks':>7}" + "".join(f"{f + ' recall@k':>17} {f + ' MRR':>11}" for f in FUSIONS))
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            settings = Settings(index_dir=Path(folder), chunk_size=size, chunk_overlap=min(150, size // 5))
            report = ingest(settings=settings, show_progress=False)
            row = f"{size:>10} {settings.chunk_overlap:>8} {report.chunks_added:>7}"
            for fusion in FUSIONS:
                recall, mrr = retrieval_quality(HybridRetriever(settings.model_copy(update={"fusion": fusion})), questions, args.k)
                row += f"{recall:>17.3f} {mrr:>11.3f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
