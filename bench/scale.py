"""Retrieval at 100k+ chunks: the lexical index on disk beside the former in-memory rank_bm25.

    python bench/scale.py [--sizes 100000 500000] [--questions 50] [--keep DIR] [--retrievers ...] [--before COMMIT]
                          [--full-read-max SIZE]

One temporary Chroma store grows to each size in turn. Its chunks are the bundled corpus's
chunks, then copies of them with about a fifth of their words replaced (new paper ids), and
their vectors are the real MiniLM vectors of the corpus chunks plus noise, normalised (the
corpus is embedded once and cached in model_cache_dir/bench). With --keep DIR, each size has its
own store in DIR/<size>, copied from the next smaller one and grown; a later run reuses them as
they are (a 500k build takes about 15 minutes; its build columns then show 0), and
`--retrievers` with no name only builds. At each size, fresh processes open the store and answer
the eval questions, so their memory is not shared:
- lexical: the retriever as it is (FTS5 index on disk, Chroma read for the candidates only);
- full read: the keyword side as it was (every chunk read from Chroma, rank_bm25 built in memory).
Both share the dense side (Chroma's HNSW). With --before COMMIT, each is also run with the rag
package of that commit (read with `git archive` into a temp folder), labelled "<kind>@<commit>".
Latencies leave out the query embedding (the questions are embedded beforehand); "kw" is the time
in the keyword side alone. recall@k and MRR: gold papers among the hits of the questions that have
them (the copies' paper ids are not gold); "same" is the share of questions whose k hits equal
those of the first retriever in the table at that size (with --before: lexical@COMMIT).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("SCALE_BENCH_CODE", str(REPO)))  # the rag package measured

import numpy as np  # noqa: E402

from rag.chunk import chunk_paper, make_splitter  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embed import get_embedder  # noqa: E402
from rag.evaluate import load_questions, percentile, recall_at_k, reciprocal_rank  # noqa: E402
from rag.ingest import distinct_papers  # noqa: E402
from rag.lexical import open_lexical, tokenize  # noqa: E402
from rag.load import load_papers  # noqa: E402
from rag.retrieve import HybridRetriever  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.types import Chunk, IngestReport  # noqa: E402

BATCH = 5000
REPLACED = 0.2   # share of a copy's words replaced by other corpus words
NOISE = 0.025    # per-dimension noise on a copy's vector: cosine to the original about 0.9
WARM_UP = "warm-up question about language models"
KINDS = ("lexical", "full-read")


def corpus_chunks(settings: Settings) -> list[Chunk]:
    papers, _ = load_papers([settings.corpus_dir])
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    return [c for p in distinct_papers(papers, IngestReport()) for c in chunk_paper(p, splitter)]


def corpus_vectors(chunks: list[Chunk], settings: Settings) -> np.ndarray:
    cache = settings.model_cache_dir / "bench" / f"scale-vectors-{len(chunks)}-{settings.chunk_size}.npy"
    if cache.exists():
        return np.load(cache)
    started = time.perf_counter()
    vectors = np.array(get_embedder(settings.embedding_model).embed_documents([c.text for c in chunks]), dtype=np.float32)
    print(f"embedded {len(chunks)} corpus chunks in {time.perf_counter() - started:.0f} s", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def perturb(text: str, vocabulary: list[str], rng: random.Random) -> str:
    lines = []
    for line in text.split("\n"):
        words = line.split(" ")
        lines.append(" ".join(rng.choice(vocabulary) if rng.random() < REPLACED else w for w in words))
    return "\n".join(lines)


def synthetic_batch(start: int, stop: int, chunks: list[Chunk], vectors: np.ndarray, vocabulary: list[str]):
    """Chunks start..stop: copy 0 is the corpus itself, copy c > 0 a perturbed one with paper id '<id>~c'."""
    rng, noise_rng = random.Random(start), np.random.default_rng(start)
    ids, texts, metadatas, embeddings = [], [], [], []
    for i in range(start, stop):
        base, copy = chunks[i % len(chunks)], i // len(chunks)
        vector = vectors[i % len(chunks)]
        meta = dict(base.metadata)
        if copy:
            meta["paper_id"] = f"{base.paper_id}~{copy}"
            vector = vector + noise_rng.normal(0, NOISE, vector.shape).astype(np.float32)
            vector /= np.linalg.norm(vector)
        ids.append(f"{meta['paper_id']}:{meta['chunk_index']}")
        texts.append(perturb(base.text, vocabulary, rng) if copy else base.text)
        metadatas.append(meta)
        embeddings.append(vector)
    return ids, texts, metadatas, np.array(embeddings)


def grow(settings: Settings, size: int, chunks: list[Chunk], vectors: np.ndarray, vocabulary: list[str]) -> dict:
    """Add chunks until the store holds `size`; seconds spent in Chroma and in the lexical index."""
    store = Store(settings)
    lexical = open_lexical(settings, store)
    seconds = {"chroma_s": 0.0, "lexical_s": 0.0}
    batch = min(BATCH, store.client.get_max_batch_size())
    for start in range(store.count(), size, batch):
        ids, texts, metadatas, embeddings = synthetic_batch(start, min(size, start + batch), chunks, vectors, vocabulary)
        started = time.perf_counter()
        store.collection.add(ids=ids, documents=texts, metadatas=metadatas, embeddings=embeddings)
        seconds["chroma_s"] += time.perf_counter() - started
        started = time.perf_counter()
        lexical.add(ids, texts, metadatas)
        seconds["lexical_s"] += time.perf_counter() - started
    lexical.close()
    return seconds


class FullReadBM25:
    """The keyword side as it was: every chunk read from Chroma, rank_bm25 over all of them in memory."""

    def __init__(self, store: Store):
        from rank_bm25 import BM25Okapi

        found = store.all_metadata(include_documents=True)
        self.ids, self.documents, self.metadatas = found["ids"], found["documents"], found["metadatas"]
        self.position = {chunk_id: i for i, chunk_id in enumerate(self.ids)}
        self.bm25 = BM25Okapi([tokenize(d) for d in self.documents])
        self._last = (None, None)

    def _scores(self, query: str) -> np.ndarray:
        if self._last[0] != query:  # computed once per query, as before
            self._last = (query, self.bm25.get_scores(tokenize(query)))
        return self._last[1]

    def search(self, query: str, n: int, year: int | None = None) -> list[tuple[str, float]]:
        scores = self._scores(query)
        order = np.argsort(-scores)[:n]
        return [(self.ids[i], float(scores[i])) for i in order if scores[i] > 0]

    def scores(self, query: str, ids: list[str]) -> dict[str, float]:
        scores = self._scores(query)
        return {i: float(scores[self.position[i]]) for i in ids if scores[self.position[i]] > 0}


class Timed:
    """Wraps the keyword side and adds up the seconds spent in its search and scores."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def __getattr__(self, name):
        attribute = getattr(self.inner, name)
        if name not in ("search", "scores"):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


class Embedded:
    """Query vectors computed beforehand, so the timings leave out the embedding model."""

    def __init__(self, embedder, questions: list[str]):
        self.vectors = dict(zip(questions, embedder.embed_documents(questions)))

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]


def memory_mb() -> dict:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024}


def worker(kind: str, index_dir: str, n_questions: int) -> None:
    """One process: open the store, answer the questions, print one JSON line."""
    settings = Settings(index_dir=Path(index_dir))
    get_embedder(settings.embedding_model, settings.embed_batch_size).embed_query("load the model first")
    started = time.perf_counter()
    retriever = HybridRetriever(settings)
    if kind == "full-read":
        retriever.lexical = FullReadBM25(retriever.store)
        retriever._checked_count = retriever.store.count()
    retriever._sync()
    opened = time.perf_counter() - started
    retriever.lexical = Timed(retriever.lexical)
    questions = load_questions(limit=n_questions)
    retriever.embedder = Embedded(retriever.embedder, [q["question"] for q in questions] + [WARM_UP])  # time retrieval, not the model
    retriever.search(WARM_UP)
    totals, keyword, hits = [], [], []
    for question in questions:
        before, started = retriever.lexical.seconds, time.perf_counter()
        hits.append(retriever.search(question["question"]))
        totals.append(time.perf_counter() - started)
        keyword.append(retriever.lexical.seconds - before)
    answerable = [(found, q["gold"]) for found, q in zip(hits, questions) if q["gold"]]
    print(json.dumps({"open_s": opened, "p50_ms": 1000 * percentile(totals, 0.5), "p95_ms": 1000 * percentile(totals, 0.95),
                      "keyword_p50_ms": 1000 * percentile(keyword, 0.5), "keyword_p95_ms": 1000 * percentile(keyword, 0.95),
                      "recall": float(np.mean([recall_at_k(found, gold) for found, gold in answerable])),
                      "mrr": float(np.mean([reciprocal_rank(found, gold) for found, gold in answerable])),
                      "hits": [[h.chunk_id for h in found] for found in hits], **memory_mb()}))


def measure(kind: str, index_dir: Path, n_questions: int, code: Path | None = None) -> dict:
    """One worker process; `code`: a folder holding another version of the rag package to measure."""
    env = {**os.environ, "SCALE_BENCH_CODE": str(code)} if code else None
    done = subprocess.run([sys.executable, __file__, "--worker", kind, "--index", str(index_dir),
                           "--questions", str(n_questions)], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"the {kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def checkout(commit: str) -> Path:
    """The rag package of this commit and its eval questions, in a temp folder (git archive: the repository
    is left as it is)."""
    folder = Path(tempfile.mkdtemp(prefix=f"rag-{commit}-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "rag", "eval"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def size_folder(keep: Path, size: int) -> Path:
    """keep/<size>: reused when it exists, else a copy of the largest smaller store there (grown later)."""
    folder = keep / str(size)
    if not folder.exists():
        smaller = sorted((int(f.name), f) for f in keep.glob("*") if f.name.isdigit() and int(f.name) < size)
        if smaller:
            shutil.copytree(smaller[-1][1], folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000, 500000])
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="keep one store per size in this folder, DIR/<size>, and reuse them in later "
                        "runs (default: one temp folder, removed at the end)")
    parser.add_argument("--retrievers", nargs="*", choices=KINDS, default=list(KINDS),
                        help="retrievers measured at each size (none: only build the stores)")
    parser.add_argument("--before", help="also measure each retriever with the rag package of this commit")
    parser.add_argument("--full-read-max", type=int, help="measure full-read only at sizes up to this (it reads every "
                        "chunk: about 5 minutes to open at 500k)")
    parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.index, args.questions)
    temp_folder = None if args.keep else Path(tempfile.mkdtemp(prefix="rag-scale-"))
    settings = Settings(index_dir=args.keep or temp_folder)
    chunks = corpus_chunks(settings)
    vectors = corpus_vectors(chunks, settings)
    vocabulary = sorted({w for c in chunks for w in c.text.split()})
    print(f"{len(chunks)} corpus chunks; stores in {args.keep or temp_folder}")
    runs = [(kind, None) for kind in args.retrievers]
    if args.before:  # first, so "same" compares the retrievers as they are with these
        before_code = checkout(args.before)
        runs = [(kind, before_code) for kind in args.retrievers] + runs
    print(f"{'chunks':>8} {'build chroma s':>14} {'build lexical s':>15} {'chroma MB':>9} {'lexical MB':>10}  "
          f"{'retriever':<18} {'open s':>7} {'p50 ms':>7} {'p95 ms':>7} {'kw p50':>7} {'kw p95':>7} {'RSS MB':>7} {'peak MB':>8} "
          f"{'recall@k':>8} {'MRR':>6} {'same':>5}", flush=True)
    built = {"chroma_s": 0.0, "lexical_s": 0.0}
    try:
        for size in sorted(args.sizes):
            folder = size_folder(args.keep, size) if args.keep else temp_folder
            settings = Settings(index_dir=folder)
            for key, seconds in grow(settings, size, chunks, vectors, vocabulary).items():
                built[key] += seconds
            lexical_mb = sum(f.stat().st_size for f in folder.glob("lexical-*")) / 1e6
            first_hits = None
            for kind, code in runs:
                if kind == "full-read" and args.full_read_max and size > args.full_read_max:
                    continue
                m = measure(kind, folder, args.questions, code)
                first_hits = first_hits or m["hits"]
                same = np.mean([a == b for a, b in zip(m["hits"], first_hits)])
                label = f"{kind}@{args.before}" if code else kind
                print(f"{size:>8} {built['chroma_s']:>14.0f} {built['lexical_s']:>15.0f} {folder_mb(folder) - lexical_mb:>9.0f} "
                      f"{lexical_mb:>10.0f}  {label:<18} {m['open_s']:>7.1f} {m['p50_ms']:>7.0f} {m['p95_ms']:>7.0f} "
                      f"{m['keyword_p50_ms']:>7.0f} {m['keyword_p95_ms']:>7.0f} {m['rss_mb']:>7.0f} {m['peak_rss_mb']:>8.0f} "
                      f"{m['recall']:>8.3f} {m['mrr']:>6.3f} {same:>5.2f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(temp_folder, ignore_errors=True)
        if args.before:
            shutil.rmtree(before_code, ignore_errors=True)


if __name__ == "__main__":
    main()
