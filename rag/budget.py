"""Prompt budget: what the local model reads before its first token, sized from its measured prefill
rate so that the first token lands within settings.first_token_target_s on this host. When all the
sources do not fit, the model first writes a first sentence from the best source alone, shown while
it reads them all and answers (settings.lead_with_best_source); a source is cut only when even the
best one alone does not fit, never below MIN_SOURCE_CHARS. Every source stays: cutting sources cost
most answers on a slow host (see README)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .config import Settings

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 5.0  # abstract text per token of the packaged models' tokenizer (4.97 on 800 corpus chunks)
QUESTION_TOKENS = 60  # the question and the prompt's closing words, read on every call besides the sources
TITLE_TOKENS = 20  # a source's number and title
# the least of each source the model reads: with one source instead of four, 20 eval questions lost most answers
MIN_SOURCE_CHARS = 200


@dataclass
class Budget:
    sources: int            # how many hits the model reads
    chars_per_source: int   # characters of each hit's abstract (context 'sentences')
    rate: float | None      # prefill tokens a second it was sized from (None: the settings' default)
    reason: str
    lead: bool = False      # a first sentence from the best source alone, shown while every source is read

    @property
    def chars(self) -> int:
        return self.sources * self.chars_per_source

    def describe(self) -> str:
        lead = ", a first sentence from the best source alone shown first" if self.lead else ""
        return f"{self.sources} sources x {self.chars_per_source} characters{lead} ({self.reason})"


_logged: set[str] = set()


def default_budget(k: int, settings: Settings, why: str) -> Budget:
    if why not in _logged:
        _logged.add(why)
        log.info("prompt budget: the settings' default, %s", why)
    return Budget(k, settings.context_chars, None, f"default: {why}")


def prompt_tokens(sources: int, chars_per_source: int) -> float:
    """Expected prompt tokens after the prefilled fixed start: the sources, the question."""
    return sources * (TITLE_TOKENS + chars_per_source / CHARS_PER_TOKEN) + QUESTION_TOKENS


def prompt_budget(k: int, rate: float | None, settings: Settings) -> Budget:
    """k sources of context_chars each when `rate` prompt tokens a second read them within the target;
    else the same, a first sentence written from the best source alone shown first
    (lead_with_best_source; else every source cut), cut only as far as that one source needs, never
    below MIN_SOURCE_CHARS."""
    if settings.first_token_target_s is None:
        return default_budget(k, settings, "no first_token_target_s set")
    if rate is None or rate <= 0:
        return default_budget(k, settings, "no prefill rate measured (a hosted model, or before the first call)")
    target = settings.first_token_target_s
    tokens = target * rate
    said = f"{rate:.0f} prompt tokens/s measured, first token within {target:g} s"
    if prompt_tokens(k, settings.context_chars) <= tokens:
        return Budget(k, settings.context_chars, rate, said)
    lead = settings.lead_with_best_source and k > 1
    first_read = 1 if lead else k
    chars = int(((tokens - QUESTION_TOKENS) / first_read - TITLE_TOKENS) * CHARS_PER_TOKEN)
    return Budget(k, min(settings.context_chars, max(MIN_SOURCE_CHARS, chars)), rate, said, lead)
