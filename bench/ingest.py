"""Ingest throughput and retrieval quality per embedding backend, in one run.

    python bench/ingest.py [--backends torch onnx onnx-int8] [--repeat 2] [--k 4]

Each backend ingests the bundled corpus into a fresh local Chroma store (parse + chunk +
embed + write, the whole pipeline), the backends taking turns for --repeat rounds (the best
time of each is kept, so a busy spell on a shared machine does not favour one); then its index is
searched with the eval questions (recall@k, MRR), and its vectors are compared with the
torch ones chunk by chunk (largest absolute difference, smallest cosine). The ONNX graphs
are exported and quantised before timing starts. Target: >= 2x torch's chunks/s with
recall@4 and MRR within 0.01 of torch's.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.embed import BACKENDS, embedder_options, get_embedder  # noqa: E402
from rag.evaluate import load_questions, retrieval_quality  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.retrieve import HybridRetriever  # noqa: E402
from rag.store import Store  # noqa: E402


def stored_vectors(settings: Settings) -> dict[str, np.ndarray]:
    """Every chunk's vector in the index, by chunk id."""
    found = Store(settings).collection.get(include=["embeddings"])
    return dict(zip(found["ids"], np.asarray(found["embeddings"], dtype=np.float64)))


def agreement(vectors: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> tuple[float, float]:
    """Largest absolute difference and smallest cosine between the two sets of unit vectors."""
    ids = sorted(reference)
    mine, theirs = np.stack([vectors[i] for i in ids]), np.stack([reference[i] for i in ids])
    return float(np.abs(mine - theirs).max()), float((mine * theirs).sum(axis=1).min())


def timed_ingests(backends: list[str], repeat: int, folder: Path) -> dict[str, list]:
    """Fresh ingests taken in turn (torch, onnx, onnx-int8, torch, ...), so a busy spell on the machine
    slows every backend alike; each backend's reports, in order."""
    reports: dict[str, list] = {b: [] for b in backends}
    for run in range(repeat):
        for backend in backends:
            settings = Settings(embedding_backend=backend, index_dir=folder / f"{backend}-{run}")
            reports[backend].append(ingest(settings=settings, show_progress=False))
    return reports


def measure(backend: str, reports: list, questions: list[dict], k: int, folder: Path) -> dict:
    """Best ingest time, then retrieval quality and vectors of the backend's last index."""
    settings = Settings(embedding_backend=backend, index_dir=folder / f"{backend}-{len(reports) - 1}")
    seconds = min(r.seconds for r in reports)
    recall, mrr = retrieval_quality(HybridRetriever(settings), questions, k)
    return {"backend": backend, "chunks": reports[-1].chunks_added, "seconds": seconds,
            "rate": reports[-1].chunks_added / seconds, "recall": recall, "mrr": mrr,
            "vectors": stored_vectors(settings)}


def print_table(rows: list[dict], k: int) -> None:
    torch = next(r for r in rows if r["backend"] == "torch")
    print(f"chunks: {torch['chunks']} (the bundled corpus), k={k}")
    print(f"{'backend':10}{'seconds':>9}{'chunks/s':>10}{'x torch':>9}{'recall@k':>10}{'MRR':>8}"
          f"{'max |diff|':>12}{'min cosine':>12}")
    for row in rows:
        largest_difference, smallest_cosine = agreement(row["vectors"], torch["vectors"])
        print(f"{row['backend']:10}{row['seconds']:>9.1f}{row['rate']:>10.1f}{row['rate'] / torch['rate']:>9.2f}"
              f"{row['recall']:>10.3f}{row['mrr']:>8.3f}{largest_difference:>12.2e}{smallest_cosine:>12.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--repeat", type=int, default=2, help="fresh ingests per backend, in turn (the best is kept)")
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    questions = [q for q in load_questions() if q["gold"]]
    backends = ["torch"] + [b for b in args.backends if b != "torch"]  # torch is the reference
    for backend in backends:  # export, quantise and load outside the timing
        get_embedder(*embedder_options(Settings(embedding_backend=backend))).embed_query("warm up")
    with tempfile.TemporaryDirectory() as folder:
        reports = timed_ingests(backends, args.repeat, Path(folder))
        rows = [measure(b, reports[b], questions, args.k, Path(folder)) for b in backends]
    print_table(rows, args.k)


if __name__ == "__main__":
    main()
