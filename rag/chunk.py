"""Chunk stage: split each abstract into overlapping, sentence-aligned pieces."""
from __future__ import annotations

import hashlib

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .types import Chunk, Paper

SENTENCE_SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap,
        separators=SENTENCE_SEPARATORS, keep_separator="end", strip_whitespace=True,
    )


def content_hash(paper: Paper) -> str:
    return hashlib.sha1(f"{paper.title}\n{paper.abstract}".encode()).hexdigest()[:16]


def chunk_paper(paper: Paper, splitter: RecursiveCharacterTextSplitter) -> list[Chunk]:
    """Chunks with ids "<paper_id>:<index>"; the stored text starts with the title line."""
    digest = content_hash(paper)
    pieces = splitter.split_text(paper.abstract) or [paper.abstract]
    chunks = []
    for index, piece in enumerate(pieces):
        metadata = {
            "paper_id": paper.paper_id, "title": paper.title, "date": paper.date,
            "source": paper.source, "chunk_index": index, "content_hash": digest,
            "abstract": paper.abstract, "authors": paper.authors,
        }
        if paper.year:
            metadata["year"] = paper.year
        chunks.append(Chunk(f"{paper.paper_id}:{index}", paper.paper_id, f"{paper.title}\n{piece}", metadata))
    return chunks
