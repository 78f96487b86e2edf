"""Prompt stage: templates from prompts/, checked for their placeholders at start-up."""
from __future__ import annotations

import re
import string
from functools import lru_cache
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from .config import PROJECT_DIR
from .types import Hit

PROMPTS_DIR = PROJECT_DIR / "prompts"
# The one "cannot answer" phrase, shared by the prompt, the answer builder, the UI and the tests.
REFUSAL = "The available abstracts do not answer this question."
PLACEHOLDERS = {"system.txt": {"refusal"}, "answer.txt": {"sources", "question"},
                "condense.txt": {"history", "question"}}


class PromptError(Exception):
    pass


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=None)
def load_templates(folder: Path = PROMPTS_DIR) -> dict[str, str]:
    templates = {}
    for name, expected in PLACEHOLDERS.items():
        path = folder / name
        if not path.exists():
            raise PromptError(f"prompt template {path} is missing")
        text = path.read_text()
        found = placeholders(text)
        if found != expected:
            raise PromptError(f"{path} must use the placeholders {sorted(expected)}, found {sorted(found)}")
        templates[name] = text.strip()
    return templates


def format_sources(hits: list[Hit]) -> str:
    # "[9]" inside a source could pass for a source number; show it as "(9)"
    def neutral(text: str) -> str:
        return re.sub(r"\[(\d+)\]", r"(\1)", text)
    return "\n".join(f"[{n}] {neutral(hit.title)}: {neutral(hit.text)}" for n, hit in enumerate(hits, start=1))


def answer_messages(question: str, hits: list[Hit]) -> list[BaseMessage]:
    templates = load_templates()
    return [SystemMessage(templates["system.txt"].format(refusal=REFUSAL)),
            HumanMessage(templates["answer.txt"].format(sources=format_sources(hits), question=question))]


def answer_prompt_start() -> list[BaseMessage]:
    """An answer prompt without sources or question. Every answer prompt starts like it (the system
    text, then the user turn up to its sources), so prefilling it once serves every question."""
    return answer_messages("", [])


def condense_messages(question: str, history: list[tuple[str, str]]) -> list[BaseMessage]:
    """history: (user question, assistant answer) pairs, oldest first."""
    lines = []
    for asked, answered in history[-3:]:
        lines += [f"User: {asked}", f"Assistant: {answered}"]
    text = load_templates()["condense.txt"].format(history="\n".join(lines), question=question)
    return [HumanMessage(text)]
