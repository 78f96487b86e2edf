"""Shared fixtures: a temp index per test, a deterministic hash embedder for fast unit tests."""
from __future__ import annotations

import hashlib
import math
import os
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.config import Settings  # noqa: E402
import rag.ingest  # noqa: E402,F401
from langchain_core.embeddings import Embeddings  # noqa: E402


class HashEmbeddings(Embeddings):
    """Bag-of-words hashed into 64 dimensions: deterministic, fast, similar texts stay close."""

    dims = 64

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text):
        vector = [0.0] * self.dims
        for word in text.lower().split():
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dims] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(index_dir=tmp_path / "index", model_cache_dir=tmp_path / "models")


@pytest.fixture
def hash_embedder(monkeypatch):
    """Swap the sentence-transformers model for the hash embedder inside the pipeline."""
    embedder = HashEmbeddings()
    monkeypatch.setattr(sys.modules["rag.ingest"], "get_embedder", lambda *a, **k: embedder)
    return embedder
