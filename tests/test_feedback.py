"""Votes appended to the feedback file, and `rag eval --from-feedback` turning them into question stubs."""
from __future__ import annotations

import json

import pytest

from rag import record_feedback
from rag.cli import main
from rag.feedback import questions_from_feedback, read_feedback


def test_votes_are_appended_with_question_answer_citations_and_time(settings):
    record_feedback("Which paper makes weights ternary?", "BitNet does [1].", ["2402.17764"], True, settings)
    record_feedback("What is FP8?", "Nonsense [1].", ["x"], False, settings)
    lines = [json.loads(line) for line in settings.feedback_path.read_text().splitlines()]
    assert settings.feedback_path == settings.index_dir / "feedback.jsonl"
    assert [(v["question"], v["citations"], v["vote"]) for v in lines] == [
        ("Which paper makes weights ternary?", ["2402.17764"], "up"), ("What is FP8?", ["x"], "down")]
    assert lines[0]["answer"] == "BitNet does [1]." and lines[0]["time"].endswith("+00:00")


def test_upvotes_become_questions_and_downvotes_a_review_list():
    votes = [{"question": "Q1", "answer": "A [1] [2].", "citations": ["a", "b"], "vote": "up"},
             {"question": "Q2", "answer": "A [1].", "citations": ["c"], "vote": "up"},
             {"question": "Q2", "answer": "A [1].", "citations": ["c"], "vote": "down"},   # changed their mind
             {"question": "Q3", "answer": "The available abstracts do not answer this question.", "citations": [], "vote": "up"}]
    questions, review = questions_from_feedback(votes)
    assert [(q["id"], q["type"], q["question"], q["gold"]) for q in questions] == [
        ("fb001", "multi", "Q1", ["a", "b"]), ("fb002", "unanswerable", "Q3", [])]
    assert [r["question"] for r in review] == ["Q2"]


def test_rag_eval_from_feedback_writes_questions_and_review(settings, tmp_path, capsys):
    record_feedback("Which paper makes weights ternary?", "BitNet does [1].", ["2402.17764"], True, settings)
    record_feedback("What is FP8?", "Nonsense [1].", ["x"], False, settings)
    assert main(["eval", "--from-feedback", str(settings.feedback_path), "--out", str(tmp_path / "fb")]) == 0
    assert "1 eval questions" in capsys.readouterr().out
    question = json.loads((tmp_path / "fb" / "questions.jsonl").read_text())
    assert question["gold"] == ["2402.17764"] and question["type"] == "single"
    assert json.loads((tmp_path / "fb" / "review.jsonl").read_text())["question"] == "What is FP8?"


def test_a_broken_feedback_file_is_an_error_naming_the_line(tmp_path, capsys):
    votes = tmp_path / "votes.jsonl"
    votes.write_text('{"question": "Q", "vote": "up"}\n{"question": "Q", "vote": "maybe"}\n')
    with pytest.raises(ValueError, match="votes.jsonl:2: not a vote"):
        read_feedback(votes)
    assert main(["eval", "--from-feedback", str(votes)]) == 1
    assert "votes.jsonl:2" in capsys.readouterr().err
    assert main(["eval", "--from-feedback", str(tmp_path / "none.jsonl")]) == 1
