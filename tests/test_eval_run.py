"""`rag eval` end to end on a small subset with the fast local model: reports are written and
grounding floors hold, so a regression in grounding fails the build."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rag.answer import ask
from rag.config import Settings
from rag.evaluate import compare, load_questions
from rag.ingest import ingest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("eval") / "index"
    ingest(settings=Settings(index_dir=index_dir))
    return index_dir


def run_cli(args, index_dir):
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir)}
    done = subprocess.run([sys.executable, "-m", "rag.cli", *args], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_limited_eval_mixes_question_types():
    assert [q["type"] for q in load_questions(limit=5)] == ["single", "multi", "unanswerable", "single", "multi"]


def test_eval_subset_writes_reports_and_holds_the_grounding_floors(corpus_index, tmp_path):
    out = tmp_path / "run"
    stdout = run_cli(["eval", "--limit", "5", "--llm", "local-fast", "--out", str(out)], corpus_index)
    assert "cited-paper precision" in stdout
    result = json.loads((out / "results.json").read_text())
    summary = result["summary"]
    assert summary["questions"] == 5 and len(result["rows"]) == 5
    assert (out / "report.md").read_text().startswith("# Eval report")
    assert (out / "metrics.png").stat().st_size > 5_000
    # floors: no marker outside the sources, every kept sentence backed by what it cites
    assert summary["invalid_markers"] == 0
    for row in result["rows"]:
        assert set(row["cited_papers"]) <= set(row["context_papers"])
        if not row["refused"]:
            assert row["answer"] and row["citation_recall"] == 1.0
    if summary["cited_precision"] is not None:
        assert summary["cited_precision"] >= 0.5
    assert "refusal rate" in compare(out, out)


def test_off_topic_questions_of_the_eval_set_are_all_refused(corpus_index):
    settings = Settings(index_dir=corpus_index, llm="local-fast")
    off_topic = [q for q in load_questions() if q["type"] == "unanswerable" and not q.get("near")]
    assert len(off_topic) >= 5
    for q in off_topic:
        answer = ask(q["question"], settings=settings)
        assert answer.refused and answer.citations == [], q["id"]
