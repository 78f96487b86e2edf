"""Lexical (BM25) index on disk: SQLite FTS5 beside the Chroma store, kept in step with it by chunk id.

One FTS5 table holds every chunk's tokens plus its chunk id, paper id and year. Its rowid is a
64-bit hash of the chunk id, so an upsert or delete by chunk id is a rowid lookup.
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from pathlib import Path

from .config import Settings

STOPWORDS = set("""a an the and or of to in on for with by from as at is are was were be been being this that these
those it its we our they their which what how does do did can could would should will into than then such via
using use used about over under between both each other more most less very not no also only""".split())
SCHEMA = """CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5(
    tokens, chunk_id UNINDEXED, paper_id UNINDEXED, year UNINDEXED, tokenize="unicode61 tokenchars '-'")"""
PAGE = 1000  # chunks read from Chroma per request while syncing


def tokenize(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower()) if w not in STOPWORDS]


def row_key(chunk_id: str) -> int:
    # 64 bits: two of a million ids share a key with odds of about 3e-8
    return int.from_bytes(hashlib.blake2b(chunk_id.encode(), digest_size=8).digest(), "big", signed=True)


def match_expression(query: str) -> str:
    """Any query token may match; each is quoted, so no query text is read as FTS5 syntax."""
    return " OR ".join(f'"{token}"' for token in tokenize(query))


def check_fts5() -> None:
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError:
        raise RuntimeError(f"this Python's SQLite ({sqlite3.sqlite_version}) lacks FTS5, which the keyword index "
                           "needs. Use a Python built with a full SQLite (python.org or Debian builds have it).") from None


class LexicalIndex:
    """Chunks' tokens in FTS5, searched with its built-in bm25() ranking."""

    def __init__(self, path: Path | str):
        check_fts5()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")  # readers in other processes do not block a writer
        self.db.execute(SCHEMA)
        self.db.commit()

    def add(self, ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        """Insert these chunks, replacing any already stored under the same ids."""
        rows = [(row_key(chunk_id), " ".join(tokenize(text)), chunk_id, meta.get("paper_id"), meta.get("year"))
                for chunk_id, text, meta in zip(ids, texts, metadatas)]
        with self._lock, self.db:
            self.db.executemany("DELETE FROM lexical WHERE rowid = ?", [(row[0],) for row in rows])
            self.db.executemany("INSERT INTO lexical(rowid, tokens, chunk_id, paper_id, year) VALUES (?, ?, ?, ?, ?)",
                                rows)

    def delete(self, ids: list[str]) -> None:
        with self._lock, self.db:
            self.db.executemany("DELETE FROM lexical WHERE rowid = ?", [(row_key(i),) for i in ids])

    def clear(self) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM lexical")

    def count(self) -> int:
        with self._lock:
            # FTS5's shadow table of document sizes: one small row per chunk, far quicker to count
            return self.db.execute("SELECT count(*) FROM lexical_docsize").fetchone()[0]

    def ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self.db.execute("SELECT chunk_id FROM lexical")}

    def search(self, query: str, n: int, year: int | None = None) -> list[tuple[str, float]]:
        """The n best chunks for any of the query's words: (chunk id, BM25 score > 0), best first."""
        expression = match_expression(query)
        if not expression:
            return []
        year_clause = "AND year = ?" if year is not None else ""
        sql = (f"SELECT chunk_id, -bm25(lexical) FROM lexical WHERE lexical MATCH ? {year_clause} "
               "ORDER BY bm25(lexical) LIMIT ?")  # cheaper than ORDER BY rank here
        params = (expression, year, n) if year is not None else (expression, n)
        with self._lock:
            return self.db.execute(sql, params).fetchall()

    def scores(self, query: str, ids: list[str]) -> dict[str, float]:
        """BM25 scores of these chunks for the query; chunks without a query word are left out."""
        expression = match_expression(query)
        if not expression or not ids:
            return {}
        marks = ",".join("?" * len(ids))
        # "+rowid": filter the matches rather than look each id up (one bm25 set-up instead of one per id)
        sql = f"SELECT chunk_id, -bm25(lexical) FROM lexical WHERE lexical MATCH ? AND +rowid IN ({marks})"
        with self._lock:
            return dict(self.db.execute(sql, (expression, *map(row_key, ids))).fetchall())

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
    return LexicalIndex(lexical_path(settings, str(store.collection.id)))
