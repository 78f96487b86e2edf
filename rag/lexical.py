"""Lexical (BM25) index on disk: SQLite FTS5 beside the Chroma store, kept in step with it by chunk id.

One FTS5 table holds every chunk's tokens plus its chunk id, paper id and year. Its rowid is a
64-bit hash of the chunk id, so an upsert or delete by chunk id is a rowid lookup. Beside it, in
the same transactions, the number of chunks holding each word and the index's totals: with them
a search lists the chunks holding the query's rarer words (a word in a third of the chunks would
cost more than all the others), ranks them by the summed idf of the words each holds, and scores the
best of them with every query word, by FTS5's own BM25 formula. Listing a word's chunks costs FTS5
about a twelfth of scoring them with its bm25().
"""
from __future__ import annotations

import hashlib
import math
import re
import sqlite3
import threading
from itertools import repeat
from pathlib import Path

import numpy as np

from .config import Settings

STOPWORDS = set("""a an the and or of to in on for with by from as at is are was were be been being this that these
those it its we our they their which what how does do did can could would should will into than then such via
using use used about over under between both each other more most less very not no also only""".split())
SCHEMA = """CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(
    tokens, chunk_id UNINDEXED, paper_id UNINDEXED, year UNINDEXED, tokenize="unicode61 tokenchars '-'")"""
STATS_SCHEMA = """
CREATE TABLE IF NOT EXISTS term_chunks(term TEXT PRIMARY KEY, chunks INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_totals(id INTEGER PRIMARY KEY CHECK (id = 0), chunks INTEGER NOT NULL,
                                        tokens INTEGER NOT NULL);"""
PAGE = 1000  # chunks read from Chroma per request while syncing
SQL_VARIABLES = 900  # ids per "IN (...)" statement
K1, B = 1.2, 0.75  # FTS5's bm25() constants
SCORED_PER_HIT = 30  # chunks ranked by idf and then scored with every query word, per hit asked for


def tokenize(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower()) if w not in STOPWORDS]


def row_key(chunk_id: str) -> int:
    # 64 bits: two of a million ids share a key with odds of about 3e-8
    return int.from_bytes(hashlib.blake2b(chunk_id.encode(), digest_size=8).digest(), "big", signed=True)


def idf(chunks_with_term: int, chunks: int) -> float:
    """FTS5's inverse document frequency: a word in more than half the chunks counts (almost) nothing."""
    value = math.log((chunks - chunks_with_term + 0.5) / (chunks_with_term + 0.5))
    return value if value > 0 else 1e-6


def bm25(query_terms: list[str], token_lists: list[str], weights: dict[str, float],
         average_length: float) -> np.ndarray:
    """FTS5's bm25() of each chunk (its space-separated tokens), negated to be > 0: a query word given
    twice counts twice, as two phrases of the OR expression would. Every word is looked up once, in C."""
    distinct = list(dict.fromkeys(query_terms))
    column = {term: i for i, term in enumerate(distinct)}
    lengths = np.array([tokens.count(" ") + 1 if tokens else 0 for tokens in token_lists], dtype=np.int64)
    words = " ".join(token_lists).split()
    found = np.fromiter(map(column.get, words, repeat(-1)), dtype=np.int64, count=len(words))
    row = np.repeat(np.arange(len(token_lists)), lengths)
    frequency = np.zeros((len(token_lists), len(distinct)))
    np.add.at(frequency, (row[found >= 0], found[found >= 0]), 1)
    weight = np.array([weights[t] * query_terms.count(t) for t in distinct])
    length_norm = (K1 * (1 - B + B * lengths / average_length))[:, None]
    return (weight * frequency * (K1 + 1) / (frequency + length_norm)).sum(axis=1)


def matched_terms(chunks_per_term: dict[str, int], budget: int) -> list[str]:
    """The words whose chunks a search lists: rarest first, while the chunks they hold add up to `budget`
    at most (always the rarest one). The rarest words carry almost all of BM25's weight."""
    by_rarity = sorted(chunks_per_term, key=lambda t: (chunks_per_term[t], t))
    chosen, total = [], 0
    for term in by_rarity:
        if chosen and total + chunks_per_term[term] > budget:
            break
        chosen.append(term)
        total += chunks_per_term[term]
    return chosen


def top_summed(keys: np.ndarray, weights: np.ndarray, limit: int) -> list[int]:
    """The `limit` keys with the highest summed weight (a key listed under several words sums them);
    of keys tied at the cut, the lowest."""
    if not len(keys):
        return []
    order = np.argsort(keys)
    keys, weights = keys[order], weights[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    unique, summed = keys[starts], np.add.reduceat(weights, starts)
    if len(unique) <= limit:
        return unique.tolist()
    cut = np.partition(summed, len(summed) - limit)[len(summed) - limit]
    above = np.flatnonzero(summed > cut)
    tied = np.flatnonzero(summed == cut)[:limit - len(above)]
    return unique[np.concatenate([above, tied])].tolist()


def check_fts5() -> None:
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError:
        raise RuntimeError(f"this Python's SQLite ({sqlite3.sqlite_version}) lacks FTS5, which the keyword index "
                           "needs. Use a Python built with a full SQLite (python.org or Debian builds have it).") from None


class LexicalIndex:
    """Chunks' tokens in FTS5 plus word counts; searched by listing the chunks of the rarer query words,
    then scoring the best of them with all the words (BM25)."""

    def __init__(self, path: Path | str, match_budget: int = 50000):
        check_fts5()
        self.path = Path(path)
        self.match_budget = match_budget
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")  # readers in other processes do not block a writer
        if not self._has_word_counts():
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")  # one process creates the tables or fills the word counts
                self.db.execute(SCHEMA)
                if not self._has_word_counts():
                    self._count_words()

    def _has_word_counts(self) -> bool:
        return bool(self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'index_totals'").fetchone())

    def _count_words(self) -> None:
        """Word counts of an index written before they were kept: read once from FTS5's vocabulary."""
        for statement in STATS_SCHEMA.split(";"):
            if statement.strip():
                self.db.execute(statement)
        self.db.execute("CREATE VIRTUAL TABLE temp.lexical_words USING fts5vocab(main, lexical, 'row')")
        self.db.execute("INSERT INTO term_chunks SELECT term, doc FROM temp.lexical_words")
        self.db.execute("INSERT INTO index_totals SELECT 0, (SELECT count(*) FROM lexical_docsize), "
                        "(SELECT coalesce(sum(cnt), 0) FROM temp.lexical_words)")
        self.db.execute("DROP TABLE temp.lexical_words")

    def add(self, ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        """Insert these chunks, replacing any already stored under the same ids."""
        rows = [(row_key(chunk_id), " ".join(tokenize(text)), chunk_id, meta.get("paper_id"), meta.get("year"))
                for chunk_id, text, meta in zip(ids, texts, metadatas)]
        with self._lock, self.db:
            self._remove([row[0] for row in rows])
            self.db.executemany("INSERT INTO lexical(rowid, tokens, chunk_id, paper_id, year) VALUES (?, ?, ?, ?, ?)",
                                rows)
            self._update_counts([row[1] for row in rows], +1)

    def delete(self, ids: list[str]) -> None:
        with self._lock, self.db:
            self._remove([row_key(i) for i in ids])

    def _remove(self, keys: list[int]) -> None:
        """Delete these rows and take their words out of the counts (inside the caller's transaction)."""
        stored = [tokens for _, _, tokens in self._rows(keys)]
        self.db.executemany("DELETE FROM lexical WHERE rowid = ?", [(key,) for key in keys])
        self._update_counts(stored, -1)

    def _update_counts(self, token_lists: list[str], sign: int) -> None:
        if not token_lists:
            return
        chunks_per_term: dict[str, int] = {}
        tokens = 0
        for token_list in token_lists:
            words = token_list.split()
            tokens += len(words)
            for word in set(words):
                chunks_per_term[word] = chunks_per_term.get(word, 0) + 1
        self.db.executemany("INSERT INTO term_chunks VALUES (?, ?) ON CONFLICT(term) DO UPDATE "
                            "SET chunks = chunks + excluded.chunks", [(t, sign * c) for t, c in chunks_per_term.items()])
        if sign < 0:
            self.db.executemany("DELETE FROM term_chunks WHERE term = ? AND chunks <= 0", [(t,) for t in chunks_per_term])
        self.db.execute("INSERT INTO index_totals VALUES (0, ?, ?) ON CONFLICT(id) DO UPDATE "
                        "SET chunks = chunks + excluded.chunks, tokens = tokens + excluded.tokens",
                        (sign * len(token_lists), sign * tokens))

    def _rows(self, keys: list[int]) -> list[tuple[int, str, str]]:
        """(rowid, chunk id, tokens) of the stored rows among these keys. Read from FTS5's content table
        (columns c0, c1... in the order of SCHEMA): a plain B-tree lookup per key, a third quicker than
        one through the FTS5 table."""
        found = []
        for start in range(0, len(keys), SQL_VARIABLES):
            part = keys[start:start + SQL_VARIABLES]
            found += self.db.execute(f"SELECT id, c1, c0 FROM lexical_content WHERE id IN "
                                     f"({','.join('?' * len(part))})", part).fetchall()
        return found

    def clear(self) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM lexical")
            self.db.execute("DELETE FROM term_chunks")
            self.db.execute("UPDATE index_totals SET chunks = 0, tokens = 0")

    def count(self) -> int:
        with self._lock:
            found = self.db.execute("SELECT chunks FROM index_totals").fetchone()
            return found[0] if found else 0

    def ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self.db.execute("SELECT chunk_id FROM lexical")}

    def _weights(self, terms: set[str]) -> tuple[dict[str, int], dict[str, float], float]:
        """Chunks holding each query word (absent words left out), each word's idf, the average chunk length."""
        marks = ",".join("?" * len(terms))
        held = dict(self.db.execute(f"SELECT term, chunks FROM term_chunks WHERE term IN ({marks}) AND chunks > 0",
                                    list(terms)).fetchall())
        chunks, tokens = self.db.execute("SELECT chunks, tokens FROM index_totals").fetchone() or (0, 0)
        weights = {t: idf(held.get(t, 0), chunks) for t in terms}
        return held, weights, tokens / chunks if chunks else 1.0

    def _scored(self, terms: list[str], keys: list[int], weights: dict[str, float],
                average_length: float) -> dict[str, float]:
        rows = self._rows(keys)
        scores = bm25(terms, [tokens for _, _, tokens in rows], weights, average_length)
        return {chunk_id: float(score) for (_, chunk_id, _), score in zip(rows, scores) if score > 0}

    def search(self, query: str, n: int, year: int | None = None) -> list[tuple[str, float]]:
        """The n best chunks for any of the query's words: (chunk id, BM25 score > 0), best first."""
        terms = tokenize(query)
        with self._lock:
            held, weights, average_length = self._weights(set(terms)) if terms else ({}, {}, 1.0)
            if not held:
                return []
            keys = self._best_by_idf({t: weights[t] * terms.count(t) for t in matched_terms(held, self.match_budget)},
                                     n * SCORED_PER_HIT, year)
            scored = self._scored(terms, keys, weights, average_length)
        return sorted(scored.items(), key=lambda item: item[1], reverse=True)[:n]

    def _best_by_idf(self, weight_of_term: dict[str, float], limit: int, year: int | None) -> list[int]:
        """Row keys of the `limit` chunks with the highest summed weight of the words they hold. Each word
        is quoted, so no query text is read as FTS5 syntax."""
        year_clause = "AND year = ?" if year is not None else ""
        keys, weights = [], []
        for term, weight in weight_of_term.items():
            params = (f'"{term}"', year) if year is not None else (f'"{term}"',)
            listed = self.db.execute(f"SELECT group_concat(rowid, ' ') FROM lexical WHERE lexical MATCH ? {year_clause}",
                                     params).fetchone()[0]
            found = np.fromstring(listed, dtype=np.int64, sep=" ") if listed else np.zeros(0, dtype=np.int64)
            keys.append(found)
            weights.append(np.full(len(found), weight))
        return top_summed(np.concatenate(keys), np.concatenate(weights), limit)

    def scores(self, query: str, ids: list[str]) -> dict[str, float]:
        """BM25 scores of these chunks for the query; chunks without a query word are left out."""
        terms = tokenize(query)
        if not terms or not ids:
            return {}
        with self._lock:
            _, weights, average_length = self._weights(set(terms))
            return self._scored(terms, [row_key(i) for i in ids], weights, average_length)

    def close(self) -> None:
        self.db.close()


def lexical_path(settings: Settings, collection_id: str) -> Path:
    """Local store: beside it in index_dir. Chroma server: a local cache file per server and collection."""
    if not settings.chroma_host:
        return settings.index_dir / f"lexical-{settings.collection}.sqlite3"
    folder = settings.lexical_dir or settings.model_cache_dir / "lexical"
    name = f"{settings.chroma_host}-{settings.chroma_port or 8000}-{settings.collection}-{collection_id}"
    return folder / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".sqlite3")


def sync_lexical(store, lexical: LexicalIndex) -> tuple[int, int]:
    """Make the lexical index hold exactly the store's chunk ids: add the missing ones (read from Chroma
    in pages), delete the extra ones. Returns (added, deleted)."""
    in_store, in_lexical = set(store.ids()), lexical.ids()
    missing, extra = sorted(in_store - in_lexical), sorted(in_lexical - in_store)
    for start in range(0, len(missing), PAGE):
        found = store.documents(missing[start:start + PAGE])
        lexical.add(found["ids"], found["documents"], found["metadatas"])
    lexical.delete(extra)
    return len(missing), len(extra)


def open_lexical(settings: Settings, store) -> LexicalIndex:
    return LexicalIndex(lexical_path(settings, str(store.collection.id)), settings.keyword_match_budget)
