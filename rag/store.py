"""Store stage: the Chroma collection, local (PersistentClient) or a server (HttpClient).

The collection's metadata records the embedding model, the kind of vectors its
backend gives (fp32 for torch and fp32 ONNX, which agree; int8 ONNX differs) and
the chunking settings; opening it with other settings is an error, so vectors of
two models, or of two backends that disagree, never mix.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from .config import Settings
from .embed import VECTOR_KIND

SIGNATURE_KEYS = ("embedding_model", "embedding_vectors", "chunk_size", "chunk_overlap")
SIGNATURE_DEFAULTS = {"embedding_vectors": "fp32"}  # indexes built before backends were recorded: torch


class StoreError(Exception):
    pass


class IndexMismatchError(StoreError):
    pass


def index_signature(settings: Settings) -> dict:
    return {"embedding_model": settings.embedding_model,
            "embedding_vectors": VECTOR_KIND[settings.embedding_backend],
            "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap}


def make_client(settings: Settings):
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port or 8000,
                                       settings=chroma_settings)
        except Exception as err:
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}: {err}. "
                "Start it with `chroma run --path DIR --port PORT`, or unset RAG_CHROMA_HOST to use the local store.") from None
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


def check_signature(found: dict, expected: dict, where: str) -> None:
    found = {**SIGNATURE_DEFAULTS, **found}
    differing = {k: (found.get(k), expected[k]) for k in SIGNATURE_KEYS if str(found.get(k)) != str(expected[k])}
    if differing:
        details = ", ".join(f"{k}: index has {old!r}, settings say {new!r}" for k, (old, new) in differing.items())
        raise IndexMismatchError(
            f"the index at {where} was built with other settings ({details}). "
            "Rebuild it with `rag ingest --rebuild`, or restore the settings it was built with.")


@dataclass
class PaperState:
    chunk_ids: set
    hashes: set


class Store:
    """The collection plus the few queries the pipeline needs."""

    def __init__(self, settings: Settings, embedder: Embeddings | None = None, rebuild: bool = False):
        self.settings = settings
        self.client = make_client(settings)
        self.where = (f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host
                      else str(settings.index_dir))
        if rebuild:
            self.drop()
        self.collection = self._open_collection()
        self.embedder = embedder

    def vectors(self) -> Chroma:
        """LangChain's view of the collection, for similarity search."""
        return Chroma(client=self.client, collection_name=self.settings.collection,
                      embedding_function=self.embedder)

    def _open_collection(self):
        expected = index_signature(self.settings)
        name = self.settings.collection
        existing = {c.name if hasattr(c, "name") else c for c in self.client.list_collections()}
        if name in existing:
            collection = self.client.get_collection(name)
            check_signature(collection.metadata or {}, expected, self.where)
            return collection
        return self.client.create_collection(name, metadata=expected,
                                             configuration={"hnsw": {"space": "cosine"}})

    def drop(self) -> None:
        try:
            self.client.delete_collection(self.settings.collection)
        except Exception:
            pass  # nothing to drop

    def count(self) -> int:
        return self.collection.count()

    def all_metadata(self, include_documents: bool = False) -> dict:
        """ids, metadatas (and documents) of every chunk, read in pages."""
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        result = {"ids": [], "metadatas": [], "documents": []}
        page, offset = 1000, 0
        while True:
            got = self.collection.get(include=include, limit=page, offset=offset)
            for key in result:
                result[key] += got.get(key) or []
            if len(got["ids"]) < page:
                return result
            offset += page

    def ids(self) -> list[str]:
        """Every chunk id, read in pages (ids only; each page costs about as much to skip to as to read)."""
        ids, page = [], 100_000
        while True:
            got = self.collection.get(include=[], limit=page, offset=len(ids))["ids"]
            ids += got
            if len(got) < page:
                return ids

    def documents(self, ids: list[str]) -> dict:
        """ids, documents and metadatas of these chunks (those still in the collection)."""
        return self.collection.get(ids=ids, include=["documents", "metadatas"])

    def paper_states(self, paper_ids: list[str] | None = None) -> dict[str, PaperState]:
        """Chunk ids and content hashes per paper: of these papers, or of every paper when None."""
        found = (self.all_metadata() if paper_ids is None else
                 self.collection.get(where={"paper_id": {"$in": paper_ids}}, include=["metadatas"]))
        states: dict[str, PaperState] = defaultdict(lambda: PaperState(set(), set()))
        for chunk_id, meta in zip(found["ids"], found["metadatas"]):
            state = states[meta["paper_id"]]
            state.chunk_ids.add(chunk_id)
            state.hashes.add(meta.get("content_hash"))
        return dict(states)

    def paper_count(self) -> int:
        """Distinct papers, read page by page so only their ids are held."""
        paper_ids, page, offset = set(), 10_000, 0
        while True:
            metadatas = self.collection.get(include=["metadatas"], limit=page, offset=offset)["metadatas"]
            paper_ids.update(m["paper_id"] for m in metadatas)
            if len(metadatas) < page:
                return len(paper_ids)
            offset += page

    def stored_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Vector of each of these chunks still in the collection, by id."""
        found = self.collection.get(ids=ids, include=["embeddings"])
        return {chunk_id: np.asarray(vector, dtype=float) for chunk_id, vector in zip(found["ids"], found["embeddings"])}

    def records(self, ids: list[str]) -> dict[str, dict]:
        """Document and metadata of each of these chunks still in the collection, by id."""
        found = self.collection.get(ids=ids, include=["documents", "metadatas"])
        return {chunk_id: {"document": document, "metadata": meta}
                for chunk_id, document, meta in zip(found["ids"], found["documents"], found["metadatas"])}

    def upsert(self, ids: list[str], texts: list[str], metadatas: list[dict], embeddings: list[list[float]]) -> None:
        self.collection.upsert(ids=ids, documents=texts, metadatas=metadatas, embeddings=embeddings)

    def ids_from_source(self, source: str) -> list[str]:
        """Chunk ids of the papers read from this source file."""
        return self.collection.get(where={"source": source}, include=[])["ids"]

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.collection.delete(ids=ids)
