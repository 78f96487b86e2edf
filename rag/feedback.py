"""Thumbs up/down on answers: appended to a JSON lines file, turned into eval-question stubs later."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from .config import Settings, get_settings

_write_lock = threading.Lock()


def record_feedback(question: str, answer: str, cited: list[str], liked: bool, settings: Settings | None = None) -> dict:
    """Append one vote (question, answer, cited paper ids, up/down, UTC time) to settings.feedback_path."""
    path = (settings or get_settings()).feedback_path
    entry = {"question": question, "answer": answer, "citations": cited, "vote": "up" if liked else "down",
             "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock, path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def read_feedback(path: Path) -> list[dict]:
    """The votes in the file; a line that is not a vote is an error naming it."""
    votes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            vote = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: malformed JSON: {err.msg}") from None
        if not isinstance(vote, dict) or vote.get("vote") not in ("up", "down") or not vote.get("question"):
            raise ValueError(f"{path}:{number}: not a vote (needs 'question' and 'vote' up or down)")
        votes.append(vote)
    return votes


def questions_from_feedback(votes: list[dict]) -> tuple[list[dict], list[dict]]:
    """Eval-question stubs from upvoted answers (gold = the papers they cite; a liked refusal is an
    unanswerable question) and the downvoted answers to review. The latest vote on a question wins."""
    latest = {vote["question"].strip(): vote for vote in votes}
    questions, review = [], []
    for question, vote in latest.items():
        if vote["vote"] == "down":
            review.append(vote)
            continue
        gold = list(dict.fromkeys(vote.get("citations") or []))
        kind = "unanswerable" if not gold else "single" if len(gold) == 1 else "multi"
        questions.append({"id": f"fb{len(questions) + 1:03d}", "type": kind, "question": question, "gold": gold,
                          "facts": [], "from": "feedback"})
    return questions, review


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
