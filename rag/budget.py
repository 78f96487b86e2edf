"""Prompt budget: how much of each source the local model reads, sized from its measured prefill rate
so that its first token lands within settings.first_token_target_s on this host. Every source stays:
cutting sources cost most answers on a slow host (see README)."""
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

    @property
    def chars(self) -> int:
        return self.sources * self.chars_per_source

    def describe(self) -> str:
        return f"{self.sources} sources x {self.chars_per_source} characters ({self.reason})"


_logged: set[str] = set()


def default_budget(k: int, settings: Settings, why: str) -> Budget:
    if why not in _logged:
        _logged.add(why)
        log.info("prompt budget: the settings' default, %s", why)
    return Budget(k, settings.context_chars, None, f"default: {why}")


def prompt_budget(k: int, rate: float | None, settings: Settings) -> Budget:
    """k sources of context_chars each, cut to what `rate` prompt tokens a second read within the
    target, never below MIN_SOURCE_CHARS each (then the first token comes later than the target)."""
    if settings.first_token_target_s is None:
        return default_budget(k, settings, "no first_token_target_s set")
    if rate is None or rate <= 0:
        return default_budget(k, settings, "no prefill rate measured (a hosted model, or before the first call)")
    target = settings.first_token_target_s
    tokens = target * rate - QUESTION_TOKENS
    said = f"{rate:.0f} prompt tokens/s measured, first token within {target:g} s"
    chars = int((tokens / k - TITLE_TOKENS) * CHARS_PER_TOKEN)
    return Budget(k, min(settings.context_chars, max(MIN_SOURCE_CHARS, chars)), rate, said)
