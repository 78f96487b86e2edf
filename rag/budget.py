"""Prompt budget: how much of the sources the local model reads, sized from its measured prefill rate
so that its first token lands within settings.first_token_target_s on this host."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .config import Settings

log = logging.getLogger(__name__)
CHARS_PER_TOKEN = 4.3  # abstract text per prompt token of the packaged models' tokenizer, measured on the corpus
QUESTION_TOKENS = 60  # the question and the prompt's closing words, read on every call besides the sources
MIN_SOURCE_CHARS = 200  # less than this of a source is too little to answer from: give fewer sources instead


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
    """k sources of context_chars, cut to what `rate` prompt tokens a second read within the target."""
    if settings.first_token_target_s is None:
        return default_budget(k, settings, "no first_token_target_s set")
    if rate is None or rate <= 0:
        return default_budget(k, settings, "no prefill rate measured (a hosted model, or before the first call)")
    target = settings.first_token_target_s
    chars = int((target * rate - QUESTION_TOKENS) * CHARS_PER_TOKEN)
    said = f"{rate:.0f} prompt tokens/s measured, first token within {target:g} s"
    if chars >= k * settings.context_chars:
        return Budget(k, settings.context_chars, rate, said)
    sources = max(1, min(k, chars // MIN_SOURCE_CHARS))
    return Budget(sources, max(MIN_SOURCE_CHARS, chars // sources), rate, said)
