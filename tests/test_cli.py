"""The `rag` command: examples in every help text, summaries, and errors as one clean line."""
from __future__ import annotations

import json

import pytest

from rag.cli import build_parser, main

from .test_answer import fake_llm, index  # noqa: F401  (fixtures)


def test_every_command_has_an_example_in_its_help():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(commands) == {"ingest", "stats", "ask", "chat", "eval", "serve"}
    for name, sub in commands.items():
        assert "example" in (sub.epilog or ""), name


def test_ingest_prints_a_summary_with_skipped_files(settings, hash_embedder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "title": "A", "abstract": "An abstract."}) + "\n")
    assert main(["ingest", str(good), str(tmp_path / "missing.csv")]) == 0
    out = capsys.readouterr().out
    assert "papers in index: 1" in out and "missing.csv: no such file" in out


def test_stats_show_the_model_and_its_prompt_budget(settings, hash_embedder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "title": "A", "abstract": "An abstract."}) + "\n")
    main(["ingest", str(good)])
    capsys.readouterr()
    assert main(["stats", "--no-model"]) == 0
    out = capsys.readouterr().out
    speed = json.loads(out[out.rindex("{\n"):])
    assert speed["model"] == "local" and speed["prefill_tokens_per_s"] is None
    assert speed["prompt_budget"].startswith("4 sources x 400 characters (default: no prefill rate measured")


def test_a_first_token_target_of_zero_is_a_clear_error(settings, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_FIRST_TOKEN_TARGET_S", "0")
    assert main(["stats", "--no-model"]) == 1
    assert "first_token_target_s" in capsys.readouterr().err


def test_errors_are_one_readable_line(settings, hash_embedder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "title": "A", "abstract": "An abstract."}) + "\n")
    main(["ingest", str(good)])
    monkeypatch.setenv("RAG_CHUNK_SIZE", "999")
    assert main(["stats"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "rag ingest --rebuild" in err and "Traceback" not in err


def test_a_misconfigured_backend_is_an_error_not_a_fallback(monkeypatch, settings):
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_LLM", "openai")
    monkeypatch.delenv("RAG_OPENAI_BASE_URL", raising=False)
    from rag.llm import LLMError, make_llm
    from rag.config import get_settings
    with pytest.raises(LLMError, match="RAG_OPENAI_BASE_URL"):
        make_llm(get_settings())
    monkeypatch.setenv("RAG_LLM", "/no/such/model.gguf")
    with pytest.raises(LLMError, match="is not 'local'"):
        make_llm(get_settings())


def test_ask_prints_the_sources_before_the_answer(index, fake_llm, monkeypatch, capsys):
    monkeypatch.setenv("RAG_INDEX_DIR", str(index.index_dir))
    fake_llm(["We train a mixture-of-experts model with 64 experts for machine translation [1]."])
    assert main(["ask", "How many experts does the translation model use?", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sources:\n[1] Sparse Experts for Translation (2023-05-02)\n[2] ")
    assert out.index("[2] ") < out.index("64 experts") < out.index("References:")
    fake_llm(["We train a mixture-of-experts model with 64 experts for machine translation [1]."])
    assert main(["ask", "How many experts does the translation model use?", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["citations"][0]["paper_id"] == "moe"
