"""The real models: the packaged fast GGUF through llama-cpp-python, and the same model behind
a real `python -m llama_cpp.server` reached through the OpenAI-compatible backend."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import rag.answer as answer_stage
from rag.answer import ask, ask_stream, warm_up
from rag.config import Settings
from rag.generate import generate
from rag.ingest import ingest
from rag.llm import LLMError, get_llm, make_llm
from rag.models import PACKAGED_MODELS, assemble
from rag.prompt import answer_prompt_start
from rag.types import Answer, Evidence

from .helpers import free_port, stop, wait_for_http
from .test_answer import PAPERS

pytestmark = pytest.mark.integration
CORPUS_FILE = Settings().corpus_dir / "004_0245eb3260a63d8e.txt"
QUESTION = "How does the mixture-of-experts translation model keep compute per token constant?"


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llm")
    planted = folder / "planted.jsonl"
    planted.write_text("".join(json.dumps(p) + "\n" for p in PAPERS))
    settings = Settings(index_dir=folder / "index", llm="local-fast")
    ingest([CORPUS_FILE, planted], settings=settings)
    return settings


def assert_grounded(answer):
    assert all(1 <= c.n <= len(answer.contexts) for c in answer.citations)
    assert {c.paper_id for c in answer.citations} <= {h.paper_id for h in answer.contexts}
    for n in {int(m) for m in __import__("re").findall(r"\[(\d+)\]", answer.text)}:
        assert 1 <= n <= len(answer.contexts)


def test_fast_local_model_answers_with_valid_citations(small_index):
    answer = ask(QUESTION, k=3, settings=small_index)
    assert answer.raw_text and answer.timings["ttft"] > 0
    assert not answer.refused, answer.raw_text
    assert_grounded(answer)
    assert "moe" in {c.paper_id for c in answer.citations}


def test_fast_local_model_follows_no_instruction_planted_in_an_abstract(small_index):
    answer = ask("What does the paper on prompt robustness of chat models study?", k=3, settings=small_index)
    assert "evil" in {h.paper_id for h in answer.contexts}
    assert "HACKED" not in answer.text and "[9]" not in answer.text
    assert_grounded(answer)


def test_the_model_loads_once_per_process(small_index):
    assert get_llm(small_index) is get_llm(small_index.model_copy())


def test_after_warm_up_the_first_question_evaluates_only_the_prompt_after_its_fixed_start(small_index, monkeypatch):
    model = get_llm(small_index)
    llama = model.load()
    llama.reset()  # forget what earlier tests left in the model's cache
    assert warm_up(small_index)
    evals = []  # (tokens kept in the cache, tokens evaluated) for each Llama.eval call
    evaluate = llama.eval

    def recording_eval(tokens):
        evals.append((llama.n_tokens, len(tokens)))
        evaluate(tokens)
    monkeypatch.setattr(llama, "eval", recording_eval)
    answer = ask(QUESTION, k=3, settings=small_index)
    kept, evaluated = evals[0]  # a completion's first eval is its prompt, after the reused prefix
    assert answer.raw_text and evaluated < kept + evaluated
    assert kept >= model.count_tokens(answer_prompt_start()[0].content)  # at least the system text
    assert evaluated < answer.prompt_tokens  # fewer than the prompt's own count


def test_a_corrupted_model_file_is_refused(tmp_path):
    model = PACKAGED_MODELS["local-fast"]
    (tmp_path / model.file_name).write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(Exception, match="expected 491,400,064"):
        assemble(model, tmp_path)


# `python -m llama_cpp.server`, with the model loaded as rag.llm loads it (no AMX buffers)
LLAMA_SERVER = ("import runpy, rag.llm; rag.llm.disable_extra_buffers(); "
                "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")


@pytest.fixture(scope="module")
def llama_server(small_index):
    model_path = assemble(PACKAGED_MODELS["local-fast"], small_index.model_cache_dir)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", LLAMA_SERVER, "--model", str(model_path), "--model_alias", "qwen-fast",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--api_key", "test-key"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/docs", process, timeout=120)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(process)


def test_hosted_backend_answers_through_a_real_openai_compatible_server(small_index, llama_server):
    # the judge's offset is chosen for the default 1.5B model; this server runs the 0.5B (eval/README.md)
    settings = small_index.model_copy(update={"llm": "openai", "openai_base_url": llama_server, "judge": False,
                                              "openai_model": "qwen-fast", "openai_api_key": "test-key"})
    parts = list(ask_stream(QUESTION, k=3, settings=settings))
    evidence, pieces, answer = parts[0], parts[1:-1], parts[-1]
    assert isinstance(evidence, Evidence) and evidence.hits == answer.contexts and len(evidence.sentences) == 3
    assert pieces and all(isinstance(p, str) for p in pieces) and isinstance(answer, Answer)
    assert answer.raw_text and not answer.refused, answer.raw_text
    assert_grounded(answer)
    assert warm_up(settings) is False  # nothing is sent to a hosted backend


def test_wrong_key_and_unreachable_endpoint_are_clear_errors(small_index, llama_server):
    wrong_key = small_index.model_copy(update={"llm": "openai", "openai_base_url": llama_server,
                                               "openai_model": "qwen-fast", "openai_api_key": "wrong"})
    with pytest.raises(LLMError, match="API key"):
        ask(QUESTION, k=2, settings=wrong_key)
    nowhere = wrong_key.model_copy(update={"openai_base_url": f"http://127.0.0.1:{free_port()}/v1"})
    with pytest.raises(LLMError, match="cannot reach"):
        generate(make_llm(nowhere), [("user", "hi")])


def test_openai_without_a_url_is_an_error_not_a_fallback(small_index):
    with pytest.raises(LLMError, match="RAG_OPENAI_BASE_URL"):
        make_llm(small_index.model_copy(update={"llm": "openai", "openai_base_url": None}))


def test_warm_up_measures_the_prefill_rate_and_a_tight_target_cuts_each_source(small_index):
    model = get_llm(small_index)
    model.load().reset()
    assert warm_up(small_index) and model.prefill_rate > 0
    roomy = ask(QUESTION, k=3, settings=small_index.model_copy(update={"first_token_target_s": 600}))
    tight = ask(QUESTION, k=3, settings=small_index.model_copy(update={"first_token_target_s": 0.01,
                                                                      "lead_with_best_source": False}))
    assert len(roomy.contexts) == len(tight.contexts) == 3
    assert all(len(t.text) <= len(r.text) for t, r in zip(tight.contexts, roomy.contexts))
    assert tight.prompt_tokens < roomy.prompt_tokens


def test_on_a_slow_host_a_first_sentence_comes_from_the_best_source_and_the_answer_reads_on_from_the_cache(
        small_index, monkeypatch):
    monkeypatch.setattr(answer_stage, "prefill_rate", lambda settings: 22.0)  # 176 tokens within 8 s: one source
    llama = get_llm(small_index).load()
    evals, prompts = [], []  # (tokens kept in the cache, tokens evaluated) per Llama.eval; each completion's prompt
    evaluate, generate_tokens = llama.eval, llama.generate

    def recording_eval(tokens):
        evals.append((llama.n_tokens, len(tokens)))
        evaluate(tokens)

    def recording_generate(tokens, **options):
        prompts.append((len(evals), llama.detokenize(list(tokens)).decode(errors="replace")))
        return generate_tokens(tokens, **options)
    monkeypatch.setattr(llama, "eval", recording_eval)
    monkeypatch.setattr(llama, "generate", recording_generate)
    parts = list(ask_stream(QUESTION, k=3, settings=small_index))
    answer = parts[-1]
    (_, lead_prompt), (second_eval, prompt) = prompts[:2]
    lead_sources, sources = (text.split("Sources:")[-1] for text in (lead_prompt, prompt))
    assert "[1]" in lead_sources and "[2]" not in lead_sources and "[3]" in sources
    assert prompt.rstrip().endswith("assistant")  # the answer from every source, not begun from the first sentence
    kept, evaluated = evals[second_eval]  # the second prompt reads on after source 1, kept in the cache
    assert kept > len(llama.tokenize(lead_prompt.split("[1]")[0].encode(), add_bos=False, special=True))
    lead = parts[1]  # the first streamed piece is the start of the first sentence, from source 1 alone
    assert isinstance(lead, str) and lead.strip() and answer.raw_text.startswith(lead)
    assert "".join(p for p in parts if isinstance(p, str)) == answer.raw_text and not answer.refused, answer.raw_text
    assert_grounded(answer)
