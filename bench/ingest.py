"""Ingest throughput: the whole pipeline beside raw SentenceTransformer.encode, same texts, one run.

    python bench/ingest.py [--repeat 2]

Pipeline = parse + chunk + embed + write to a fresh local Chroma store.
Baseline = SentenceTransformer.encode on the very same chunk texts.
Target: pipeline chunks/s >= 0.9 x baseline chunks/s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunk import chunk_paper, make_splitter  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embed import get_embedder  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.load import load_papers  # noqa: E402


def corpus_chunk_texts(settings: Settings) -> list[str]:
    papers, _ = load_papers([settings.corpus_dir])
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    unique = {p.paper_id: p for p in papers}
    return [c.text for p in unique.values() for c in chunk_paper(p, splitter)]


def time_raw_encode(texts: list[str], settings: Settings) -> float:
    model = get_embedder(settings.embedding_model, settings.embed_batch_size).model
    started = time.perf_counter()
    model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
    return time.perf_counter() - started


def time_pipeline(settings: Settings) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        report = ingest(settings=settings.model_copy(update={"index_dir": Path(folder)}), show_progress=False)
    return report.seconds, report.chunks_added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each (best is kept)")
    args = parser.parse_args()
    settings = Settings()
    texts = corpus_chunk_texts(settings)
    get_embedder(settings.embedding_model, settings.embed_batch_size).embed_query("warm up")
    raw_times, pipe_times = [], []
    for _ in range(args.repeat):
        raw_times.append(time_raw_encode(texts, settings))
        seconds, added = time_pipeline(settings)
        assert added == len(texts), f"pipeline wrote {added} chunks, baseline encoded {len(texts)}"
        pipe_times.append(seconds)
    raw_rate, pipe_rate = len(texts) / min(raw_times), len(texts) / min(pipe_times)
    print(f"chunks: {len(texts)} (chunk_size={settings.chunk_size}, batch={settings.embed_batch_size})")
    print(f"{'':32}{'seconds':>10}{'chunks/s':>10}")
    print(f"{'raw SentenceTransformer.encode':32}{min(raw_times):>10.1f}{raw_rate:>10.1f}")
    print(f"{'whole ingest pipeline':32}{min(pipe_times):>10.1f}{pipe_rate:>10.1f}")
    print(f"pipeline / raw: {pipe_rate / raw_rate:.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
