"""Answers people can take away: links for arXiv ids and DOIs, and the answer as Markdown with its references."""
from __future__ import annotations

import re

from .types import Answer

# new style 2401.12345 (v2), old style cs/0112017 or math.GT/0309136, optionally prefixed "arXiv:"
ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)$", re.IGNORECASE)
DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)


def paper_link(paper_id: str) -> str | None:
    """https://arxiv.org/abs/<id> for an arXiv id, https://doi.org/<doi> for a DOI, else None."""
    paper_id = paper_id.strip()
    if found := ARXIV_ID.match(paper_id):
        return f"https://arxiv.org/abs/{found.group(1)}"
    if found := DOI.match(paper_id):
        return f"https://doi.org/{found.group(1)}"
    return None


def reference_lines(answer: Answer) -> list[str]:
    """"[n] title (link)" for each cited source, or "(id)" when the id links nowhere."""
    return [f"[{c.n}] {c.title} ({paper_link(c.paper_id) or c.paper_id})" for c in answer.citations]


def answer_markdown(answer: Answer) -> str:
    """The verified answer text, then its numbered reference list."""
    if not answer.citations:
        return answer.text
    return answer.text + "\n\nReferences:\n\n" + "\n".join(f"- {line}" for line in reference_lines(answer))
