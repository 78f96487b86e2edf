"""All settings in one place: every field has a default and a description.

Each field can be overridden by an environment variable named RAG_<FIELD>,
for example RAG_INDEX_DIR=/tmp/index or RAG_LLM=local-fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", env_parse_none_str="none")

    # Corpus and index
    corpus_dir: Path = Field(PROJECT_DIR / "data", description="Folder of the bundled corpus, ingested when no path is given.")
    index_dir: Path = Field(PROJECT_DIR / ".index", description="Where the local Chroma store lives.")
    collection: str = Field("abstracts", description="Chroma collection name.")
    chroma_host: str | None = Field(None, description="Chroma server host; set it (with chroma_port) to use a server instead of the local store.")
    chroma_port: int | None = Field(None, description="Chroma server port.")
    lexical_dir: Path | None = Field(None, description="With a Chroma server: folder of the local keyword (BM25) index, one file per server and collection (default: model_cache_dir/lexical). The local store keeps its own in index_dir.")

    # Embeddings and chunking
    embedding_model: str = Field("all-MiniLM-L6-v2", description="'all-MiniLM-L6-v2' (the packaged model) or a path to any sentence-transformers model folder.")
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field("torch", description="Runtime of the embedding model: 'torch' (sentence-transformers), 'onnx' (ONNX Runtime on an fp32 graph exported once into model_cache_dir/onnx; the same vectors to 2e-7, so it shares indexes with torch) or 'onnx-int8' (int8 weights: 2.3x torch's ingest speed on 2 cores, vectors within cosine 0.98 of torch's, eval recall@4 unchanged and MRR +0.007; an index built with it needs `rag ingest --rebuild` to switch back). A GPU is used when present. Measured in README (bench/ingest.py).")
    embed_batch_size: int = Field(64, description="Chunks embedded per batch during ingest.")
    ingest_batch_papers: int = Field(500, gt=0, description="Papers read, chunked, embedded and written per step of an ingest: memory grows with this, not with the size of the files.")
    chunk_size: int = Field(400, description="Target chunk length in characters (chosen by retrieval recall and prompt size, see README).")
    chunk_overlap: int = Field(80, description="Characters shared by neighbouring chunks.")

    # Retrieval
    k: int = Field(4, description="Number of sources given to the LLM.")
    candidates: int = Field(30, description="Hits taken from each retriever (dense, BM25) before fusion.")
    max_chunks_per_paper: int = Field(1, description="At most this many chunks of one paper among the hits.")
    fusion: Literal["scores", "rrf"] = Field("scores", description="How dense and BM25 hits are merged: 'scores' (weighted sum of their scaled scores; measured better on the eval set, see README) or 'rrf' (reciprocal rank fusion).")
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Share of the dense score in 'scores' fusion; the rest is BM25.")
    rrf_k: int = Field(60, description="Reciprocal rank fusion constant, for fusion='rrf'.")
    keyword_match_budget: int = Field(50000, gt=0, description="Most chunks a keyword search lists: the query's words are taken rarest first while the chunks holding them add up to this at most (always the rarest word); the chunks found are ranked by the summed idf of their words and the best 30 per hit asked for are scored with every query word (BM25). The words left out are the most common ones, which weigh least in BM25. Bounds the keyword side at 500k chunks, see README.")
    lexical_sync_interval_s: float = Field(5.0, ge=0, description="Seconds between two looks at the collection's size, to bring the keyword index up to date when another process changed Chroma alone (counting costs about 60 ms at 500k chunks). An empty collection is looked at on every search; an ingest in this process or on this machine's index updates both at once.")
    context: Literal["evidence", "chunk", "sentences", "abstract"] = Field("sentences", description="What the LLM sees of each hit: 'sentences' (each abstract's sentences closest to the question, within context_chars), 'evidence' (sentences chosen across all hits within context_budget, more from the better sources; see README), 'chunk' (the matching chunk) or 'abstract' (the whole abstract).")
    context_budget: int = Field(2000, gt=0, description="Characters of abstract sentences given to the LLM in all, when context='evidence' (2000: 86% of the eval set's gold facts shown at 1.18x the prompt tokens of context='sentences').")
    context_chars: int = Field(400, description="Characters of each abstract passed to the LLM when context='sentences'.")
    min_relevance: float = Field(0.25, description="Cosine similarity below which the best hit counts as off-topic (answer refused).")

    # Generation
    llm: str = Field("local", description="'local' (Qwen2.5-Coder-1.5B), 'local-fast' (0.5B), 'openai', a path to a GGUF file, or a transformers model folder.")
    model_cache_dir: Path = Field(Path.home() / ".cache" / "rag-abstracts", description="Where packaged GGUF models are assembled once, and the embedding model's ONNX export is written.")
    n_ctx: int = Field(4096, description="Context window of the local model, in tokens.")
    n_threads: int | None = Field(None, description="CPU threads for the local model (default: all cores).")
    first_token_target_s: float | None = Field(8.0, gt=0, description="Seconds within which the local model should start answering: when its measured prefill rate cannot read every source in that time, it shows a first sentence from the best source alone first (lead_with_best_source; otherwise every source is cut), and the sources are cut only as far as that first read needs (never below 200 characters a source, never above context_chars). RAG_FIRST_TOKEN_TARGET_S=none for neither; hosted backends always get the full context.")
    assumed_prefill_rate: float | None = Field(None, gt=0, description="Prompt tokens a second to size the prompt budget from instead of the local model's measured prefill rate (22: the slowest host seen), for trying a slow host's prompts on a fast one; unset: measured.")
    lead_with_best_source: bool = Field(True, description="When the measured prefill rate cannot read every source within first_token_target_s: the local model first writes a first sentence from the best source alone (shown as it comes), then reads all the sources and answers from them as on a fast host (what says that sentence again is not shown twice), instead of cutting every source. Measured in README (bench/latency.py --budget).")
    prompt_lookup_tokens: int = Field(0, ge=0, description="Tokens the local model drafts by looking up the prompt (llama.cpp prompt-lookup decoding: answers copy from their sources) and checks in one pass; 0 for plain decoding. Measured in README (bench/decode.py).")
    retry_with_top_source: bool = Field(True, description="When verification rejects a whole answer, ask once more with one source: the only one whose title's name (\"ZipNN\", \"M2-BERT\") the rejected answer says, else the one it cited most, else the best-matching; given as many characters of its abstract as the first prompt gave all sources (a few seconds more on those questions).")
    extract_when_rejected: bool = Field(True, description="When verification keeps nothing of the model's answer (or the model refused) and the question names two or more of its sources, or asks which work fits a description one source clearly holds: answer with those sources' own sentences, copied with their citations and checked, before any retry.")
    result_sentences: int = Field(2, ge=0, description="Result sentences (stating a number) of each cited paper that a verified answer adds, closest to the question first, when the answer does not say them yet: copied with their citation and checked (4 in all at most; 0 for none). Measured in eval/README.md.")
    max_tokens: int = Field(200, description="Most tokens the model may generate for one answer.")
    temperature: float = Field(0.0, description="Sampling temperature.")
    openai_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible endpoint, for llm='openai'.")
    openai_model: str | None = Field(None, description="Model name at that endpoint.")
    openai_api_key: str | None = Field(None, description="API key for that endpoint.")
    request_timeout: float = Field(120.0, description="Seconds to wait for a hosted endpoint.")

    # Web UI
    auth: str | None = Field(None, description="'user:password' turns on the web UI's login.")
    ui_concurrency: int = Field(4, description="Web UI requests handled at once (the LLM itself runs one at a time).")
    upload_dir: Path | None = Field(None, description="Where files uploaded in the web UI are kept (default: index_dir/uploads); nothing is written outside it.")
    upload_max_mb: float = Field(20.0, gt=0, description="Largest upload accepted, in MB: one file, or a zip's files together once unpacked.")
    feedback_file: Path | None = Field(None, description="JSON lines file the thumbs up/down votes are appended to (default: index_dir/feedback.jsonl).")

    # OpenAI-compatible API (`rag serve --api`)
    api_key: str | None = Field(None, description="Bearer key the API requires (unset: no key needed).")
    api_model: str = Field("rag-abstracts", description="Model name the API lists at /v1/models and answers as.")

    # Support checking
    support_threshold: float | None = Field(None, description="Support-checker score at or above which a source supports a sentence (default: 0.5 with the judge, else the feature regression's threshold fitted on SciFact train).")
    judge: bool = Field(True, description="Check each answer sentence with the answer model itself as judge (logit of Yes minus No for 'does the passage state this?', on a prompt extending the cached answer prompt; a hosted backend is asked for its log-probabilities). false: the feature regression alone, as before. Measured in eval/README.md.")
    judge_offset: float = Field(3.0, description="The judge's Yes-No logit a sentence must exceed to count as supported (chosen on the dev part of eval/claims for precision first).")

    @property
    def uploads_folder(self) -> Path:
        return self.upload_dir or self.index_dir / "uploads"

    @property
    def feedback_path(self) -> Path:
        return self.feedback_file or self.index_dir / "feedback.jsonl"


def get_settings(**overrides) -> Settings:
    """Settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)
