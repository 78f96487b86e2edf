"""Generate stage: run a chat model, streaming, with backend errors turned into advice."""
from __future__ import annotations

from collections.abc import Iterator

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from .llm import LLMError


def explain(err: Exception) -> LLMError:
    name = type(err).__name__
    if "AuthenticationError" in name or "PermissionDenied" in name:
        return LLMError(f"the LLM endpoint refused the API key ({err}); check RAG_OPENAI_API_KEY")
    if any(part in name for part in ("ConnectionError", "TimeoutError", "ConnectError")):
        return LLMError(f"cannot reach the LLM endpoint ({err}); check RAG_OPENAI_BASE_URL and that the server is running")
    if "NotFoundError" in name:
        return LLMError(f"the LLM endpoint does not know the model ({err}); check RAG_OPENAI_MODEL")
    return LLMError(f"the LLM failed: {name}: {err}")


def stream_tokens(model: BaseChatModel, messages: list[BaseMessage], **options) -> Iterator[str]:
    """options go to the model (LlamaCppChat: max_tokens)."""
    try:
        for chunk in model.stream(messages, **options):
            if chunk.content:
                yield chunk.content
    except LLMError:
        raise
    except Exception as err:
        raise explain(err) from err


def generate(model: BaseChatModel, messages: list[BaseMessage]) -> str:
    return "".join(stream_tokens(model, messages))
