"""The data that flows between stages."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Paper:
    paper_id: str
    title: str
    abstract: str
    source: str          # file the paper came from
    line: int            # line of the title (or record) in that file
    date: str = ""       # as written in the source, e.g. "Oct 28, 2024"
    year: int | None = None
    authors: str = ""
    author_count: int | None = None
    categories: str = ""


@dataclass
class Chunk:
    chunk_id: str        # "<paper_id>:<index>"
    paper_id: str
    text: str
    metadata: dict


@dataclass
class Skipped:
    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass
class IngestReport:
    papers: int = 0              # distinct papers in the index after ingest
    chunks_added: int = 0
    chunks_unchanged: int = 0
    chunks_removed: int = 0
    entries_read: int = 0
    duplicates: int = 0          # entries repeating a paper already read in this run
    filtered: int = 0            # entries left out by the category / since filters
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"papers in index: {self.papers}",
            f"entries read: {self.entries_read} ({self.duplicates} repeated, {self.filtered} filtered out)",
            f"chunks added: {self.chunks_added}, unchanged: {self.chunks_unchanged}, removed: {self.chunks_removed}",
            f"skipped: {len(self.skipped)}",
        ]
        lines += [f"  - {s}" for s in self.skipped]
        lines.append(f"seconds: {self.seconds:.1f}")
        return "\n".join(lines)


@dataclass
class IndexedPaper:
    """One row of what the index holds."""
    paper_id: str
    title: str
    date: str
    source: str


@dataclass
class Hit:
    paper_id: str
    title: str
    text: str
    score: float
    chunk_id: str
    date: str = ""
    year: int | None = None
    abstract: str = ""
    similarity: float = 0.0   # cosine similarity of the question to this text


@dataclass
class Evidence:
    """What an answer will be built from, known before the model writes: ask_stream yields it first."""
    question: str                                            # the standalone question the hits were found for
    hits: list[Hit] = field(default_factory=list)            # numbered [1], [2], ... as in the prompt
    sentences: list[list[str]] = field(default_factory=list)  # per hit, the abstract sentences closest to the question


@dataclass
class Citation:
    n: int
    paper_id: str
    title: str
    quote: str
    date: str = ""


@dataclass
class Answer:
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    contexts: list[Hit] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    question: str = ""
    standalone_question: str = ""
    raw_text: str = ""        # the model's reply before verification
    prompt_tokens: int = 0
    rejected: dict = field(default_factory=dict)  # sentences of the reply each check turned down (rag.support.CHECKS)
    judge_calls: int = 0      # the support checker's model calls for this answer
    judge_tokens: int = 0     # prompt tokens those calls read anew (the rest came from the cache)
