"""Generation backends behind LangChain chat models: llama.cpp (packaged or any GGUF),
an OpenAI-compatible endpoint, or a transformers model folder. Loaded once per process."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from .config import Settings
from .models import PACKAGED_MODELS, ModelError, assemble

ROLES = {"system": "system", "human": "user", "ai": "assistant"}
MIN_MEASURED_TOKENS = 32  # a prefill of fewer new tokens is too short to time
RATE_WEIGHT = 0.5  # weight of the latest measurement in the running prefill rate


class LLMError(Exception):
    pass


def disable_extra_buffers() -> None:
    """Load llama.cpp models without the extra (AMX) weight buffers: CPUs that advertise AMX
    inside VMs that do not enable it crash in ggml_backend_amx_mul_mat."""
    import llama_cpp.llama as llama_module
    default = llama_module.llama_cpp.llama_model_default_params
    if getattr(default, "without_extra_buffers", False):
        return

    def without_extra_buffers():
        params = default()
        params.use_extra_bufts = False
        return params
    without_extra_buffers.without_extra_buffers = True
    llama_module.llama_cpp.llama_model_default_params = without_extra_buffers


class LlamaCppChat(BaseChatModel):
    """A GGUF model run by llama-cpp-python; one call at a time (its context is not thread-safe)."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 200
    temperature: float = 0.0
    prompt_lookup_tokens: int = 0
    _llama: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _prefill_rate: float | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def load(self):
        if self._llama is None:
            from llama_cpp import Llama
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding
            disable_extra_buffers()
            draft = LlamaPromptLookupDecoding(num_pred_tokens=self.prompt_lookup_tokens) if self.prompt_lookup_tokens else None
            # drafts are checked against the logits of every prompt position (n_ctx x vocabulary floats)
            self._llama = Llama(model_path=self.model_path, n_ctx=self.n_ctx, n_batch=512, draft_model=draft,
                                logits_all=draft is not None, n_threads=self.n_threads or os.cpu_count(), verbose=False)
        return self._llama

    @property
    def prefill_rate(self) -> float | None:
        """Prompt tokens read a second, a running figure over the calls so far (None before the first)."""
        return self._prefill_rate

    def note_prefill(self, new_tokens: int, seconds: float) -> None:
        if new_tokens >= MIN_MEASURED_TOKENS and seconds > 0:
            rate = new_tokens / seconds
            previous = self._prefill_rate
            self._prefill_rate = rate if previous is None else (1 - RATE_WEIGHT) * previous + RATE_WEIGHT * rate

    def count_tokens(self, text: str) -> int:
        return len(self.load().tokenize(text.encode(), add_bos=False))

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        chat = [{"role": ROLES.get(m.type, "user"), "content": m.content} for m in messages]
        with self._lock:
            llama = self.load()
            cached, started, timed = llama._input_ids.tolist(), time.perf_counter(), False
            for part in llama.create_chat_completion(chat, max_tokens=kwargs.get("max_tokens", self.max_tokens),
                                                     temperature=self.temperature, stop=stop, stream=True):
                text = part["choices"][0]["delta"].get("content") or ""
                if not timed:  # the prompt has been read: time the tokens that were not in the cache
                    timed, prompt = True, llama._input_ids.tolist()
                    self.note_prefill(len(prompt) - llama.longest_token_prefix(cached, prompt), time.perf_counter() - started)
                if text:
                    if run_manager:
                        run_manager.on_llm_new_token(text)
                    yield ChatGenerationChunk(message=AIMessageChunk(content=text))

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(c.message.content for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def make_openai(settings: Settings) -> BaseChatModel:
    if not settings.openai_base_url or not settings.openai_model:
        raise LLMError("RAG_LLM=openai needs RAG_OPENAI_BASE_URL and RAG_OPENAI_MODEL "
                       "(and RAG_OPENAI_API_KEY if the endpoint wants one).")
    from langchain_openai import ChatOpenAI
    return ChatOpenAI(base_url=settings.openai_base_url, model=settings.openai_model,
                      api_key=settings.openai_api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
                      temperature=settings.temperature, max_tokens=settings.max_tokens,
                      timeout=settings.request_timeout, max_retries=0)


def make_transformers(folder: Path, settings: Settings) -> BaseChatModel:
    try:
        from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
    except ImportError:
        raise LLMError("a transformers model folder needs `pip install langchain-huggingface`") from None
    pipeline = HuggingFacePipeline.from_model_id(
        model_id=str(folder), task="text-generation", device=-1,
        pipeline_kwargs={"max_new_tokens": settings.max_tokens, "do_sample": False, "return_full_text": False})
    return ChatHuggingFace(llm=pipeline, model_id=str(folder))


def make_llm(settings: Settings) -> BaseChatModel:
    """The chat model that settings.llm names; a misconfiguration is an error, never a fall-back."""
    choice = settings.llm
    if choice == "openai":
        return make_openai(settings)
    if choice in PACKAGED_MODELS:
        try:
            path = assemble(PACKAGED_MODELS[choice], settings.model_cache_dir)
        except ModelError as err:
            raise LLMError(str(err)) from None
        return llama_chat(path, settings)
    path = Path(choice).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return llama_chat(path, settings)
    if path.is_dir() and (path / "config.json").exists():
        return make_transformers(path, settings)
    raise LLMError(f"RAG_LLM={choice!r} is not 'local', 'local-fast', 'openai', a .gguf file "
                   "or a transformers model folder")


def llama_chat(path: Path, settings: Settings) -> LlamaCppChat:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise LLMError("llama-cpp-python is not installed: run `pip install llama-cpp-python` "
                       "(it compiles from source, about 7 minutes)") from None
    return LlamaCppChat(model_path=str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                        max_tokens=settings.max_tokens, temperature=settings.temperature,
                        prompt_lookup_tokens=settings.prompt_lookup_tokens)


_models: dict[tuple, BaseChatModel] = {}
_models_lock = threading.Lock()


def model_key(settings: Settings) -> tuple:
    return tuple(getattr(settings, name) for name in (
        "llm", "openai_base_url", "openai_model", "openai_api_key", "model_cache_dir", "n_ctx", "n_threads",
        "max_tokens", "temperature", "prompt_lookup_tokens"))


def loaded_llm(settings: Settings) -> BaseChatModel | None:
    """The model get_llm made for these settings, if it did (nothing is loaded)."""
    return _models.get(model_key(settings))


def get_llm(settings: Settings) -> BaseChatModel:
    """One model per backend configuration per process, shared by every caller."""
    key = model_key(settings)
    with _models_lock:
        if key not in _models:
            _models[key] = make_llm(settings)
        return _models[key]
