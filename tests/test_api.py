"""The OpenAI-compatible API, really served over HTTP and called with the real `openai` client: in-process
uvicorn with the queued-reply fake LLM over a small real index, and `rag serve --api` as a process."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import openai
import pytest
import uvicorn

from rag.api import make_api
from rag.config import PROJECT_DIR
from rag.prompt import REFUSAL

from .helpers import free_port, stop, wait_for_http
from .test_answer import fake_llm, index, searched_number  # noqa: F401  (fixtures)

QUESTION = "How many experts does the translation model use?"


def serve_in_thread(settings):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_api(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def api(index):
    """The API with a bearer key, on a free port; yields (client, settings)."""
    settings = index.model_copy(update={"api_key": "s3cret"})
    server, thread, url = serve_in_thread(settings)
    yield openai.OpenAI(base_url=url, api_key="s3cret", max_retries=0), settings
    server.should_exit = True
    thread.join(timeout=10)


def test_models_lists_the_chatbot_and_a_wrong_key_is_refused(api):
    client, _ = api
    assert [m.id for m in client.models.list()] == ["rag-abstracts"]
    wrong = openai.OpenAI(base_url=str(client.base_url), api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="RAG_API_KEY"):
        wrong.chat.completions.create(model="rag-abstracts", messages=[{"role": "user", "content": QUESTION}])


def test_a_streamed_reply_is_the_verified_answer_with_references(api, fake_llm):
    client, settings = api
    n = searched_number(QUESTION, "moe", settings)
    fake_llm([f"We train a mixture-of-experts model with 64 experts for machine translation [{n}]. "
              f"It was trained on the moon [{n}]."])
    stream = client.chat.completions.create(model="rag-abstracts", stream=True,
                                            messages=[{"role": "system", "content": "Be brief."},
                                                      {"role": "user", "content": QUESTION}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(chunks) > 5 and chunks[-1].choices[0].finish_reason == "stop"
    assert text.startswith("We train a mixture-of-experts model with 64 experts for machine translation [1].")
    assert "moon" not in text  # the unsupported sentence was removed before anything was sent
    assert text.endswith("References:\n\n- [1] Sparse Experts for Translation (moe)")


def test_a_plain_reply_uses_the_history_for_a_follow_up(api, fake_llm):
    client, settings = api
    n = searched_number("How many experts does the translation model use?", "moe", settings)
    model = fake_llm(["How many experts does the translation model use?",
                      f"We train a mixture-of-experts model with 64 experts for machine translation [{n}]."])
    reply = client.chat.completions.create(model="rag-abstracts", messages=[
        {"role": "user", "content": "What does the translation paper do?"},
        {"role": "assistant", "content": "It trains a mixture of experts [1]."},
        {"role": "user", "content": [{"type": "text", "text": "How many experts does it use?"}]}])
    assert "64 experts" in reply.choices[0].message.content
    assert "[1] Sparse Experts for Translation (moe)" in reply.choices[0].message.content
    assert model.i == 0  # both queued replies used: the follow-up was rewritten with the history first


def test_a_request_without_a_question_is_a_clear_error(api):
    client, _ = api
    with pytest.raises(openai.BadRequestError, match="last message must be a user message"):
        client.chat.completions.create(model="rag-abstracts", messages=[{"role": "system", "content": "Hi"}])


def test_rag_serve_api_streams_the_refusal_for_an_off_topic_question(index, tmp_path):
    port = free_port()
    # a hosted backend that is never reached: an off-topic question is refused before any model call
    env = {**os.environ, "RAG_INDEX_DIR": str(index.index_dir), "RAG_LLM": "openai",
           "RAG_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "RAG_OPENAI_MODEL": "none"}
    process = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--api", "--port", str(port)], env=env,
                               cwd=PROJECT_DIR, stdout=open(tmp_path / "api.log", "w"), stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/v1/models", process, timeout=120)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        stream = client.chat.completions.create(model="rag-abstracts", stream=True, messages=[
            {"role": "user", "content": "What is a good recipe for banana bread?"}])
        assert "".join(c.choices[0].delta.content or "" for c in stream) == REFUSAL
    finally:
        stop(process)
