"""Ingest: load -> chunk -> embed -> store, streamed, incremental and safe to interrupt.

Files are read as a stream and handled in steps of settings.ingest_batch_papers
papers, so memory stays flat however big the file. Chunk ids are deterministic
("<paper_id>:<index>") and every chunk records its paper's content hash, so a
re-run writes only papers whose chunks are missing, stale or incomplete, and
never duplicates a chunk. Each batch goes to Chroma, then to the lexical index;
a final sync by chunk id completes whatever a killed run left in one and not
the other.
"""
from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from .chunk import chunk_paper, make_splitter
from .config import Settings, get_settings
from .embed import embedder_options, get_embedder
from .lexical import LexicalIndex, open_lexical, sync_lexical
from .load import PaperFilter, expand_paths, read_files
from .store import PaperState, Store
from .types import Chunk, IndexedPaper, IngestReport, Paper, Skipped

FirstSeen = dict[str, tuple[str, int, bytes]]  # paper id -> source, line and abstract digest of its first entry


def abstract_digest(paper: Paper) -> bytes:
    return hashlib.sha1(paper.abstract.encode()).digest()[:8]


def distinct_papers(papers: list[Paper], report: IngestReport, seen: FirstSeen | None = None) -> list[Paper]:
    """First entry of each paper id (across batches when `seen` is kept); repeats with another abstract are reported."""
    seen = {} if seen is None else seen
    kept = []
    for paper in papers:
        first = seen.setdefault(paper.paper_id, (paper.source, paper.line, abstract_digest(paper)))
        if first[:2] == (paper.source, paper.line):
            kept.append(paper)
            continue
        report.duplicates += 1
        if first[2] != abstract_digest(paper):
            report.skipped.append(Skipped(paper.source, paper.line,
                                          f"same paper as {first[0]}:{first[1]} with another abstract; kept the first"))
    return kept


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


class IngestProgress:
    """One bar over the bytes of the input files (hence the ETA), with papers/s and chunks written beside it."""

    def __init__(self, total_bytes: int, show_progress: bool | None):
        self.bar = tqdm(total=total_bytes, desc="ingesting", unit="B", unit_scale=True,
                        disable=not_a_terminal(show_progress))
        self.started = time.perf_counter()
        self.papers = self.chunks = 0

    def read(self, n_bytes: int) -> None:
        self.bar.update(n_bytes)

    def count(self, papers: int = 0, chunks: int = 0) -> None:
        self.papers += papers
        self.chunks += chunks
        rate = self.papers / max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix_str(f"papers={self.papers} ({rate:.1f} papers/s), chunks={self.chunks}")

    def close(self) -> None:
        self.bar.close()


def write_batch(store: Store, lexical: LexicalIndex, chunks: list[Chunk], texts: list[str],
                vectors: list[list[float]]) -> None:
    ids, metadatas = [c.chunk_id for c in chunks], [c.metadata for c in chunks]
    store.upsert(ids, texts, metadatas, vectors)
    lexical.add(ids, texts, metadatas)


def write_chunks(store: Store, lexical: LexicalIndex, chunks: list[Chunk], settings: Settings,
                 progress: IngestProgress) -> None:
    """Embed batch after batch; each batch is written by a second thread while the next one embeds."""
    if not chunks:
        return
    embedder = get_embedder(*embedder_options(settings))
    batch = settings.embed_batch_size
    chunks = sorted(chunks, key=lambda c: len(c.text))  # similar lengths per batch: less padding
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending = None
        for start in range(0, len(chunks), batch):
            part = chunks[start:start + batch]
            texts = [c.text for c in part]
            vectors = embedder.embed_documents(texts)
            if pending:
                pending.result()  # in order, and a failed write stops the ingest
            pending = writer.submit(write_batch, store, lexical, part, texts, vectors)
            progress.count(chunks=len(part))
        pending.result()


def not_a_terminal(show_progress: bool | None) -> bool:
    return not sys.stderr.isatty() if show_progress is None else not show_progress


def kept_papers(items: Iterable[Paper | Skipped], wanted: PaperFilter, report: IngestReport) -> Iterator[Paper]:
    """Papers that pass the filters; skipped entries and filtered-out papers are counted in the report."""
    for item in items:
        if isinstance(item, Skipped):
            report.skipped.append(item)
            continue
        report.entries_read += 1
        if wanted and not wanted.accepts(item):
            report.filtered += 1
            continue
        yield item


def batches(papers: Iterator[Paper], size: int) -> Iterator[list[Paper]]:
    while batch := list(islice(papers, size)):
        yield batch


def ingest_batch(papers: list[Paper], store: Store, lexical: LexicalIndex, settings: Settings,
                 report: IngestReport, progress: IngestProgress) -> None:
    """One step: chunk, write what is missing or changed, then drop the papers' stale chunks."""
    states = store.paper_states([p.paper_id for p in papers])
    to_write, stale = plan_writes(papers, states, settings, report)
    write_chunks(store, lexical, to_write, settings, progress)
    store.delete(stale)  # after the writes, so an interrupted run never loses a paper
    lexical.delete(stale)
    report.chunks_added += len(to_write)
    report.chunks_removed += len(stale)
    progress.count(papers=len(papers))


def ingest(paths: list[str | Path] | None = None, rebuild: bool = False, settings: Settings | None = None,
           show_progress: bool | None = None, wanted: PaperFilter = PaperFilter()) -> IngestReport:
    """Index abstracts from files or folders (None = the bundled corpus), keeping the papers `wanted` accepts."""
    settings = settings or get_settings()
    started = time.perf_counter()
    report = IngestReport()
    files, report.skipped = expand_paths(list(paths) if paths else [settings.corpus_dir])
    store = Store(settings, rebuild=rebuild)
    seen: FirstSeen = {}
    progress = IngestProgress(sum(f.stat().st_size for f in files if f.is_file()), show_progress)
    with closing(open_lexical(settings, store)) as lexical, closing(progress):
        if rebuild:
            lexical.clear()
        papers = kept_papers(read_files(files, progress.read), wanted, report)
        for batch in batches(papers, settings.ingest_batch_papers):
            ingest_batch(distinct_papers(batch, report, seen), store, lexical, settings, report, progress)
        sync_lexical(store, lexical)
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
            "embedding_backend": settings.embedding_backend,
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
