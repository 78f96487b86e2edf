"""The prompt budget: what the model reads, sized from its measured prefill rate."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.answer import current_budget
from rag.budget import MIN_SOURCE_CHARS, prompt_budget
from rag.config import Settings


def test_a_fast_host_reads_every_source_in_full():
    budget = prompt_budget(4, rate=250.0, settings=Settings())
    assert (budget.sources, budget.chars_per_source) == (4, Settings().context_chars)
    assert "250 prompt tokens/s" in budget.describe()


def test_a_slow_host_reads_the_best_source_first_and_every_source_in_full():
    # 22 tokens/s, 8 s: 176 tokens read before the first token, room for the best source, not for all four
    slow = prompt_budget(4, 22.0, Settings())
    assert slow.lead and (slow.sources, slow.chars_per_source) == (4, Settings().context_chars)
    assert "a first sentence from the best source alone shown first" in slow.describe()
    assert not prompt_budget(4, 250.0, Settings()).lead


def test_without_the_lead_a_slow_host_reads_less_of_every_source():
    settings = Settings(lead_with_best_source=False)
    fast, slow = prompt_budget(4, 60.0, settings), prompt_budget(4, 22.0, settings)
    assert slow.chars < fast.chars and not slow.lead
    assert slow.sources == 4 and slow.chars_per_source >= MIN_SOURCE_CHARS
    assert prompt_budget(4, 22.0, settings.model_copy(update={"first_token_target_s": 16})).chars > slow.chars
    assert not prompt_budget(1, 5.0, Settings()).lead  # one source: nothing to read after the lead


@pytest.mark.parametrize("lead", [True, False])
def test_a_very_slow_host_still_reads_every_source_at_the_least_size(lead):
    budget = prompt_budget(4, 1.0, Settings(lead_with_best_source=lead))
    assert (budget.sources, budget.chars_per_source, budget.lead) == (4, MIN_SOURCE_CHARS, lead)


def test_no_measured_rate_or_no_target_gives_the_default_with_the_reason():
    unmeasured = prompt_budget(4, None, Settings())
    assert (unmeasured.sources, unmeasured.rate) == (4, None) and "no prefill rate measured" in unmeasured.reason
    assert "no first_token_target_s" in prompt_budget(4, 22.0, Settings(first_token_target_s=None)).reason


@pytest.mark.parametrize("target", ["0", "-3"])
def test_a_target_of_zero_or_less_is_a_clear_error(monkeypatch, target):
    monkeypatch.setenv("RAG_FIRST_TOKEN_TARGET_S", target)
    with pytest.raises(ValidationError, match="first_token_target_s"):
        Settings()


def test_an_assumed_prefill_rate_sizes_the_budget_instead_of_the_measured_one():
    assert current_budget(4, Settings(assumed_prefill_rate=22.0)).lead
    assert not current_budget(4, Settings(assumed_prefill_rate=1000.0)).lead
