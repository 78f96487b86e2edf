"""Ingest: load -> chunk -> embed -> store, incremental and safe to interrupt.

Chunk ids are deterministic ("<paper_id>:<index>") and every chunk records its
paper's content hash, so a re-run writes only papers whose chunks are missing,
stale or incomplete, and never duplicates a chunk. Each batch goes to Chroma,
then to the lexical index; a final sync by chunk id completes whatever a killed
run left in one and not the other.
"""
from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from tqdm import tqdm

from .chunk import chunk_paper, make_splitter
from .config import Settings, get_settings
from .embed import get_embedder
from .lexical import LexicalIndex, open_lexical, sync_lexical
from .load import load_papers
from .store import PaperState, Store
from .types import Chunk, IndexedPaper, IngestReport, Paper, Skipped


def distinct_papers(papers: list[Paper], report: IngestReport) -> list[Paper]:
    """First entry of each paper id; repeats with a different abstract are reported."""
    first: dict[str, Paper] = {}
    for paper in papers:
        kept = first.setdefault(paper.paper_id, paper)
        if kept is paper:
            continue
        report.duplicates += 1
        if kept.abstract != paper.abstract:
            report.skipped.append(Skipped(paper.source, paper.line,
                                          f"same paper as {kept.source}:{kept.line} with another abstract; kept the first"))
    return list(first.values())


def is_current(chunks: list[Chunk], state: PaperState | None) -> bool:
    if state is None:
        return False
    return state.chunk_ids == {c.chunk_id for c in chunks} and state.hashes == {chunks[0].metadata["content_hash"]}


def plan_writes(papers: list[Paper], states: dict[str, PaperState], settings: Settings,
                report: IngestReport) -> tuple[list[Chunk], list[str]]:
    """Chunks to write and stale chunk ids to delete."""
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    to_write, stale = [], []
    for paper in papers:
        chunks = chunk_paper(paper, splitter)
        state = states.get(paper.paper_id)
        if is_current(chunks, state):
            report.chunks_unchanged += len(chunks)
            continue
        to_write += chunks
        if state:
            stale += sorted(state.chunk_ids - {c.chunk_id for c in chunks})
    return to_write, stale


def write_batch(store: Store, lexical: LexicalIndex, chunks: list[Chunk], texts: list[str],
                vectors: list[list[float]]) -> None:
    ids, metadatas = [c.chunk_id for c in chunks], [c.metadata for c in chunks]
    store.upsert(ids, texts, metadatas, vectors)
    lexical.add(ids, texts, metadatas)


def write_chunks(store: Store, lexical: LexicalIndex, chunks: list[Chunk], settings: Settings,
                 show_progress: bool | None) -> None:
    """Embed batch after batch; each batch is written by a second thread while the next one embeds."""
    if not chunks:
        return
    embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
    batch = settings.embed_batch_size
    chunks = sorted(chunks, key=lambda c: len(c.text))  # similar lengths per batch: less padding
    with (tqdm(total=len(chunks), desc="embedding chunks", unit="chunk", disable=not_a_terminal(show_progress)) as bar,
          ThreadPoolExecutor(max_workers=1) as writer):
        pending = None
        for start in range(0, len(chunks), batch):
            part = chunks[start:start + batch]
            texts = [c.text for c in part]
            vectors = embedder.embed_documents(texts)
            if pending:
                pending.result()  # in order, and a failed write stops the ingest
            pending = writer.submit(write_batch, store, lexical, part, texts, vectors)
            bar.update(len(part))
        pending.result()


def not_a_terminal(show_progress: bool | None) -> bool:
    return not sys.stderr.isatty() if show_progress is None else not show_progress


def ingest(paths: list[str | Path] | None = None, rebuild: bool = False, settings: Settings | None = None,
           show_progress: bool | None = None) -> IngestReport:
    """Index abstracts from files or folders (None = the bundled corpus) and report what happened."""
    settings = settings or get_settings()
    started = time.perf_counter()
    report = IngestReport()
    papers, report.skipped = load_papers(list(paths) if paths else [settings.corpus_dir])
    report.entries_read = len(papers)
    papers = distinct_papers(papers, report)
    store = Store(settings, rebuild=rebuild)
    with closing(open_lexical(settings, store)) as lexical:
        if rebuild:
            lexical.clear()
        to_write, stale = plan_writes(papers, store.paper_states(), settings, report)
        write_chunks(store, lexical, to_write, settings, show_progress)
        store.delete(stale)  # after the writes, so an interrupted run never loses a paper
        lexical.delete(stale)
        sync_lexical(store, lexical)
    report.chunks_added = len(to_write)
    report.chunks_removed = len(stale)
    report.papers = store.paper_count()
    report.seconds = time.perf_counter() - started
    return report


def index_stats(settings: Settings | None = None) -> dict:
    """What the index holds."""
    settings = settings or get_settings()
    store = Store(settings)
    metadatas = store.all_metadata()["metadatas"]
    sources: dict[str, set] = {}
    for meta in metadatas:
        sources.setdefault(meta.get("source", "?"), set()).add(meta["paper_id"])
    return {"location": store.where, "papers": len({m["paper_id"] for m in metadatas}),
            "chunks": len(metadatas), "embedding_model": settings.embedding_model,
            "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
            "papers_per_source": {s: len(ids) for s, ids in sorted(sources.items())},
            "papers_with_year": len({m["paper_id"] for m in metadatas if m.get("year")})}


def list_papers(settings: Settings | None = None) -> list[IndexedPaper]:
    """Every indexed paper (id, title, date, source file), sorted by title."""
    found = Store(settings or get_settings()).all_metadata()["metadatas"]
    papers = {m["paper_id"]: IndexedPaper(m["paper_id"], m.get("title", ""), m.get("date", ""), m.get("source", ""))
              for m in found}
    return sorted(papers.values(), key=lambda p: (p.title.lower(), p.paper_id))


def remove_source(source: str, settings: Settings | None = None) -> int:
    """Delete the papers read from this source file, from Chroma and the lexical index; returns their number."""
    settings = settings or get_settings()
    store = Store(settings)
    ids = store.ids_from_source(source)
    with closing(open_lexical(settings, store)) as lexical:
        store.delete(ids)
        lexical.delete(ids)
    return len({chunk_id.rsplit(":", 1)[0] for chunk_id in ids})
