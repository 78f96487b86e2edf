"""An OpenAI-compatible API over `ask`: GET /v1/models and POST /v1/chat/completions (streaming too).

    rag serve --api --port 8000
    OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="...").chat.completions.create(
        model="rag-abstracts", messages=[{"role": "user", "content": "How can LLM weights be made ternary?"}])

Every reply is the verified answer followed by its reference list (rag.references.answer_markdown).
A stream sends the assistant role at once, then the verified answer in pieces once it is checked.
"""
from __future__ import annotations

import json
import re
import secrets
import time
import uuid

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from .answer import ask
from .config import Settings, get_settings
from .references import answer_markdown

History = list[tuple[str, str]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list | None = None


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens ...: accepted, the settings decide
    model: str | None = None
    messages: list[Message]
    stream: bool = False


def text_of(content: str | list | None) -> str:
    """A message's text, from a string or a list of content parts."""
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict)).strip()
    return (content or "").strip()


def question_and_history(messages: list[Message]) -> tuple[str, History]:
    """The last user message, and the earlier (user, assistant) turns before it; system messages are ignored."""
    turns = [(m.role, text_of(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1]:
        raise ApiError(400, "the last message must be a user message with the question")
    history = [(said, reply) for (role, said), (next_role, reply) in zip(turns[:-1], turns[1:])
               if role == "user" and next_role == "assistant"]
    return turns[-1][1], history


def completion(reply_id: str, model: str, text: str) -> dict:
    return {"id": reply_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


def chunk(reply_id: str, model: str, delta: dict, finish: str | None = None) -> str:
    body = {"id": reply_id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def error_body(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def answer_text(question: str, history: History, settings: Settings) -> str:
    try:
        return answer_markdown(ask(question, history=history, settings=settings))
    except ApiError:
        raise
    except Exception as err:  # a misconfigured backend reaches the client as a readable error
        raise ApiError(500, f"{type(err).__name__}: {err}", "server_error") from None


def stream_reply(reply_id: str, model: str, question: str, history: History, settings: Settings):
    """SSE chunks in OpenAI's format: the role at once, then the verified answer word by word, then [DONE]."""
    yield chunk(reply_id, model, {"role": "assistant", "content": ""})
    try:
        text = answer_text(question, history, settings)
    except ApiError as err:
        yield f"data: {json.dumps(error_body(err.message, err.kind))}\n\n"
        return
    for piece in re.findall(r"\s*\S+", text):
        yield chunk(reply_id, model, {"content": piece})
    yield chunk(reply_id, model, {}, finish="stop")
    yield "data: [DONE]\n\n"


def make_api(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    api = FastAPI(title="rag-abstracts", description="Verified, cited answers from research-paper abstracts.")

    def check_key(request: Request) -> None:
        if not settings.api_key:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {settings.api_key}".encode()):
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <RAG_API_KEY>'", "authentication_error")

    @api.exception_handler(ApiError)
    def api_error(request: Request, err: ApiError) -> JSONResponse:
        return JSONResponse(error_body(err.message, err.kind), status_code=err.status)

    @api.get("/v1/models", dependencies=[Depends(check_key)])
    def models() -> dict:
        return {"object": "list", "data": [{"id": settings.api_model, "object": "model", "created": 0,
                                            "owned_by": "rag-abstracts"}]}

    @api.post("/v1/chat/completions", dependencies=[Depends(check_key)])
    def chat_completions(request: ChatRequest):
        question, history = question_and_history(request.messages)
        reply_id = f"chatcmpl-{uuid.uuid4().hex}"
        if request.stream:
            return StreamingResponse(stream_reply(reply_id, settings.api_model, question, history, settings),
                                     media_type="text/event-stream")
        return completion(reply_id, settings.api_model, answer_text(question, history, settings))

    return api
