"""Retrieve stage: dense search in Chroma plus BM25 from the lexical index on disk, fused by their
scores (or by reciprocal rank fusion), at most a few chunks per paper."""
from __future__ import annotations

import re
import threading
import time

import numpy as np

from .config import Settings
from .embed import embedder_options, get_embedder
from .lexical import open_lexical, sync_lexical
from .store import Store
from .support import content_words, split_sentences
from .types import Hit

NUMBER_BONUS = 0.1  # chosen on the eval set: answer facts found in the context 89/179 against 77/179 without


def rrf(rankings: list[list[str]], k: int) -> dict[str, float]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (k + rank + 1)
    return scores


def score_fusion(ids: list[str], cosines: np.ndarray, bm25: np.ndarray, dense_weight: float) -> dict[str, float]:
    """dense_weight * cosine (min-max scaled over the candidates) + the rest * BM25 / its best score.
    Unlike rank fusion it keeps how far ahead a hit is: a rare exact term BM25 alone finds can win."""
    spread = cosines.max() - cosines.min()
    dense = (cosines - cosines.min()) / spread if spread > 0 else np.ones_like(cosines)
    keyword = bm25 / bm25.max() if bm25.max() > 0 else np.zeros_like(bm25)
    fused = dense_weight * dense + (1 - dense_weight) * keyword
    return dict(zip(ids, map(float, fused)))


class HybridRetriever:
    """Dense hits from Chroma, keyword hits from the lexical index; reads the candidates' vectors, and the
    documents and metadata of the best-ranked ones only."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.embedder = get_embedder(*embedder_options(settings))
        self.store = Store(settings, self.embedder)
        self.vectors = self.store.vectors()
        self.lexical = open_lexical(settings, self.store)
        self._checked_count = -1
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def _sync(self) -> int:
        """The collection's size, looked up again when empty or after lexical_sync_interval_s. When it
        changed since the last look (another process ingested, or an ingest was killed between its two
        writes), the lexical index is brought up to date."""
        if self._checked_count > 0 and time.monotonic() - self._checked_at < self.settings.lexical_sync_interval_s:
            return self._checked_count
        count = self.store.count()
        if count != self._checked_count:
            if self.lexical.count() != count:
                sync_lexical(self.store, self.lexical)
            self._checked_count = count
        self._checked_at = time.monotonic()
        return count

    def dense(self, query_vector: list[float], n: int, year: int | None) -> list[str]:
        """Ids of the n nearest chunks (their vectors are read afterwards, with the keyword hits')."""
        found = self.store.collection.query(query_embeddings=[query_vector], n_results=n,
                                            where={"year": year} if year else None, include=[])
        return found["ids"][0]

    def fuse(self, query: str, cosines: dict[str, float], keyword: dict[str, float], dense_ids: list[str],
             keyword_ids: list[str]) -> dict[str, float]:
        if self.settings.fusion == "rrf":
            return rrf([dense_ids, keyword_ids], self.settings.rrf_k)
        ids = list(cosines)
        # the dense-only candidates need their BM25 scores too (0 when they share no query word)
        bm25 = {**self.lexical.scores(query, [i for i in ids if i not in keyword]), **keyword}
        return score_fusion(ids, np.array([cosines[i] for i in ids]), np.array([bm25.get(i, 0.0) for i in ids]),
                            self.settings.dense_weight)

    def search(self, query: str, k: int | None = None, year: int | None = None) -> list[Hit]:
        k = k or self.settings.k
        year = year or None
        with self._lock:
            if not self._sync():
                return []
        query_vector = self.embedder.embed_query(query)
        n = max(self.settings.candidates, k)
        dense_ids = self.dense(query_vector, n, year)
        keyword = dict(self.lexical.search(query, n, year))
        candidates = list(dict.fromkeys(dense_ids + list(keyword)))
        vectors = self.store.stored_vectors(candidates) if candidates else {}
        # a chunk deleted from Chroma may linger in the lexical index until the next sync
        candidates = [i for i in candidates if i in vectors]
        if not candidates:
            return []
        dense_ids = [i for i in dense_ids if i in vectors]
        keyword_ids = [i for i in keyword if i in vectors]
        # stored vectors: the cosine of every candidate, for score fusion and for Hit.similarity
        query_array = np.asarray(query_vector)
        cosines = {i: float(vectors[i] @ query_array) for i in candidates}
        fused = self.fuse(query, cosines, keyword, dense_ids, keyword_ids)
        ranked = sorted(fused, key=fused.get, reverse=True)
        records = self.head_records(ranked, k)
        return self.to_hits(self.per_paper_cap(ranked, k, records), fused, cosines, records)

    def head_records(self, ranked: list[str], k: int) -> dict[str, dict]:
        """Documents and metadata of the best-ranked candidates, read 2k at a time until the per-paper
        cap has k hits among them (or the candidates run out)."""
        records: dict[str, dict] = {}
        read = 0
        while read < len(ranked) and len(self.per_paper_cap(ranked[:read], k, records)) < k:
            records.update(self.store.records(ranked[read:read + 2 * k]))
            read += 2 * k
        return records

    def per_paper_cap(self, ranked: list[str], k: int, records: dict[str, dict]) -> list[str]:
        """The first k ranked chunks, at most max_chunks_per_paper of each paper (chunks without a record
        left out)."""
        taken: dict[str, int] = {}
        chosen = []
        for chunk_id in ranked:
            if chunk_id not in records:
                continue
            paper = records[chunk_id]["metadata"]["paper_id"]
            if taken.get(paper, 0) < self.settings.max_chunks_per_paper:
                taken[paper] = taken.get(paper, 0) + 1
                chosen.append(chunk_id)
            if len(chosen) == k:
                break
        return chosen

    def to_hits(self, chosen: list[str], fused: dict[str, float], cosines: dict[str, float],
                records: dict[str, dict]) -> list[Hit]:
        hits = []
        for chunk_id in chosen:
            meta = records[chunk_id]["metadata"]
            text = records[chunk_id]["document"].split("\n", 1)[-1]
            hits.append(Hit(paper_id=meta["paper_id"], title=meta["title"], text=text, score=fused[chunk_id],
                            chunk_id=chunk_id, date=meta.get("date", ""), year=meta.get("year"),
                            abstract=meta.get("abstract", text), similarity=cosines[chunk_id]))
        return hits


_retrievers: dict[tuple, HybridRetriever] = {}
_retrievers_lock = threading.Lock()


def get_retriever(settings: Settings) -> HybridRetriever:
    key = (str(settings.index_dir), settings.chroma_host, settings.chroma_port, settings.collection,
           settings.embedding_model, settings.embedding_backend, settings.chunk_size, settings.chunk_overlap,
           settings.candidates, settings.max_chunks_per_paper, settings.fusion, settings.dense_weight, settings.rrf_k,
           settings.keyword_match_budget, settings.lexical_sync_interval_s)
    with _retrievers_lock:
        if key not in _retrievers:
            _retrievers[key] = HybridRetriever(settings)
        return _retrievers[key]


def focus_sentences(question: str, abstract: str, budget: int) -> str:
    """The abstract's sentences that share most words with the question, in their own order, within
    `budget` characters. A sentence with a number gets a small bonus: questions mostly ask for results."""
    sentences = split_sentences(abstract)
    asked = content_words(question)

    def score(i: int) -> float:
        shared = len(asked & content_words(sentences[i])) / max(1, len(asked))
        return shared + (NUMBER_BONUS if re.search(r"\d", sentences[i]) else 0.0)

    chosen, used = [], 0
    for i in sorted(range(len(sentences)), key=lambda i: (-score(i), i)):
        if not chosen or used + len(sentences[i]) <= budget:
            chosen.append(i)
            used += len(sentences[i])
    return " ".join(sentences[i] for i in sorted(chosen))
