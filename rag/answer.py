"""Answer: retrieve -> prompt -> generate -> verify, as one call or as a stream."""
from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from .answer_type import gives_asked_quantity
from .budget import Budget, prompt_budget
from .cite import (checked_verdict, cite_the_only_source, draft_source, name_not_echoing_the_question,
                   opens_with_refusal, premise_first, verdict_first, verify_answer)
from .compose import complete_answer, extracted_answer
from .config import Settings, get_settings
from .evidence import select_evidence
from .generate import generate, stream_tokens
from .judge import answer_context
from .llm import LlamaCppChat, get_llm, loaded_llm
from .prompt import REFUSAL, answer_messages, answer_prompt_start, condense_messages
from .retrieve import focus_sentences, get_retriever
from .support import get_checker, split_sentences
from .types import Answer, Evidence, Hit

History = list[tuple[str, str]]
# streamed between a rejected draft and the second try, so a reader of the stream sees why it restarts
RETRY_NOTE = "\n\n(Not supported by the sources; asking again with one source only.)\n\n"
# streamed when the answer from every source does not begin with the first sentence written from the best one
LEAD_NOTE = "\n\n(That sentence was from the best source alone; the answer from all of them follows.)\n\n"
# a sentence's end: its marker and full stop, a full stop that more words (not a marker) follow, a line's end
SENTENCE_END = re.compile(r"\]\.|[.!?](?=\s+[^\s\[])|\n")
LEAD_MAX_TOKENS = 80  # a first sentence is shorter


def search(query: str, k: int = 10, year: int | None = None, settings: Settings | None = None) -> list[Hit]:
    """Retrieval only, no LLM: the k best chunks, at most a few per paper."""
    return get_retriever(settings or get_settings()).search(query, k=k, year=year)


def standalone_question(question: str, history: History | None, settings: Settings) -> str:
    if not history:
        return question
    rewritten = generate(get_llm(settings), condense_messages(question, history)).strip().splitlines()
    return rewritten[0].strip() if rewritten and rewritten[0].strip() else question


def prefill_rate(settings: Settings) -> float | None:
    """settings.assumed_prefill_rate, else the loaded local model's measured prompt tokens a second
    (None before it is loaded, or hosted)."""
    return settings.assumed_prefill_rate or getattr(loaded_llm(settings), "prefill_rate", None)


def current_budget(k: int, settings: Settings) -> Budget:
    """What the model reads on this host: sized from the local model's measured prefill rate (the
    default before the model is loaded)."""
    return prompt_budget(k, prefill_rate(settings), settings)


def relevant_hits(question: str, budget: Budget, year: int | None, settings: Settings) -> list[Hit]:
    hits = get_retriever(settings).search(question, k=budget.sources, year=year)
    if not hits or max(h.similarity for h in hits) < settings.min_relevance:
        return []
    if settings.context == "abstract":
        hits = [replace(h, text=h.abstract) for h in hits]
    elif settings.context == "sentences":
        hits = [replace(h, text=focus_sentences(question, h.abstract, budget.chars_per_source)) for h in hits]
    elif settings.context == "evidence":
        chars = min(settings.context_budget, budget.chars)
        hits = [replace(h, text=text) for h, text in zip(hits, select_evidence(question, hits, chars))]
    return hits


def source_alone(question: str, hits: list[Hit], number: int, settings: Settings) -> list[Hit]:
    """The retry's one source, given as many characters of its abstract as the first prompt gave all
    the hits, so the retry reads no more than the first prompt did."""
    source = hits[number - 1]
    if settings.context in ("sentences", "evidence") and source.abstract:
        source = replace(source, text=focus_sentences(question, source.abstract, sum(len(h.text) for h in hits)))
    return [source]


def evidence(question: str, hits: list[Hit], settings: Settings) -> Evidence:
    """The hits, each with the abstract sentences closest to the question (with context 'evidence' or
    'sentences', the text the model reads)."""
    def closest(hit: Hit) -> list[str]:
        if settings.context in ("evidence", "sentences"):
            return split_sentences(hit.text)
        return split_sentences(focus_sentences(question, hit.abstract or hit.text, settings.context_chars))
    return Evidence(question=question, hits=hits, sentences=[closest(h) for h in hits])


def refusal(question: str, standalone: str, hits: list[Hit], timings: dict, raw: str = "") -> Answer:
    return Answer(text=REFUSAL, refused=True, citations=[], contexts=hits, timings=timings,
                  question=question, standalone_question=standalone, raw_text=raw)


def prompt_tokens(model, messages) -> int:
    text = "\n".join(m.content for m in messages)
    return model.count_tokens(text) if hasattr(model, "count_tokens") else len(text) // 4


def draft(model, messages, timings: dict, started: float, shown: str = "") -> Iterator[str]:
    """Streams the model's reply piece by piece; returns the whole reply. `shown` is text already
    streamed as its start (the lead): held back while the reply says it again; where the reply parts
    from it, LEAD_NOTE and the reply from its start are streamed instead (see after_lead)."""
    reply, held = "", shown
    for piece in stream_tokens(model, messages):
        timings.setdefault("ttft", time.perf_counter() - started)
        reply += piece
        if held is not None and (reply.startswith(held) or not held.startswith(reply)):
            piece, held = after_lead(held, reply)[len(held):], None
        if held is None and piece:
            yield piece
    if held and reply != held:  # it ended inside the lead
        yield after_lead(held, reply)[len(held):]
    return reply


def after_lead(lead: str, reply: str) -> str:
    """What the stream holds once `reply` follows the `lead` shown before it."""
    return lead + reply[len(lead):] if reply.startswith(lead) else lead + LEAD_NOTE + reply


def lead_sentence(model, question: str, hits: list[Hit], timings: dict, started: float) -> Iterator[str]:
    """A first sentence of the answer, written from the best source alone (a short prompt, so it starts
    soon), streamed as it comes; returns it. A refusal is held back and returns "" (nothing shown)."""
    text, shown = "", 0
    for piece in stream_tokens(model, answer_messages(question, hits[:1]), max_tokens=LEAD_MAX_TOKENS):
        text += piece
        end = SENTENCE_END.search(text)
        text = text[:end.end()] if end else text
        if not REFUSAL.startswith(text.strip()):
            timings.setdefault("ttft", time.perf_counter() - started)
            yield text[shown:]
            shown = len(text)
        if end:
            break
    if opens_with_refusal(text):
        return ""
    if shown < len(text):
        yield text[shown:]
    return text


def first_draft(model, messages, question: str, hits: list[Hit], budget: Budget, timings: dict,
                started: float) -> Iterator[str]:
    """Streams the model's answer to messages (every source); returns it, all that was streamed and the
    prompt tokens sent. When the budget leads (the sources cannot all be read within the first-token
    target), a first sentence written from the best source alone is streamed while the rest is read;
    the answer is still the one every source gives (see draft: what repeats the lead is not streamed twice)."""
    lead, tokens = "", prompt_tokens(model, messages)
    if budget.lead and len(hits) > 1:
        lead = yield from lead_sentence(model, question, hits, timings, started)
        tokens += prompt_tokens(model, answer_messages(question, hits[:1]))
    reply = yield from draft(model, messages, timings, started, shown=lead)
    return reply, after_lead(lead, reply), tokens


def checked(question: str, raw: str, hits: list[Hit], settings: Settings, model=None, messages=None,
            rejected: Counter | None = None) -> tuple[str, list]:
    """The verified text and citations, completed from the sources for the parts of the question it
    leaves open; empty when nothing supported, or no asked-for quantity, is left. messages: the prompt
    the reply answers, which the judge's prompts extend (in the local model's cache)."""
    checker = get_checker(settings, model)
    text, citations = verify_answer(raw, hits, checker, answer_context(messages, raw) if messages else None, rejected)
    if not gives_asked_quantity(question, text):
        text, citations = "", []
    if checker.judge is None:
        text = name_not_echoing_the_question(question, checked_verdict(question, text, citations, hits, checker), hits)
        return complete_answer(question, text, citations, hits, checker, results_per_paper=settings.result_sentences)
    text, citations = complete_answer(question, name_not_echoing_the_question(question, text, hits), citations, hits,
                                      checker, results_per_paper=settings.result_sentences)
    text, citations = verdict_first(question, text, citations, raw, hits, checker)
    return premise_first(question, text, citations, raw, hits, checker)


def judge_calls(model, settings: Settings) -> tuple[int, int]:
    """Calls the checker's judge has made so far, and the prompt tokens it read anew."""
    judge = get_checker(settings, model).judge
    return (len(judge.log.calls), judge.log.tokens()) if judge is not None else (0, 0)


def extracted(question: str, hits: list[Hit], settings: Settings, model=None) -> tuple[str, list]:
    """The answer copied from the sources' sentences (see compose.extracted_answer), when it gives what is asked."""
    text, citations = extracted_answer(question, hits, get_checker(settings, model), settings.result_sentences)
    return (text, citations) if text and gives_asked_quantity(question, text) else ("", [])


def ask_stream(question: str, k: int | None = None, history: History | None = None, year: int | None = None,
               settings: Settings | None = None) -> Iterator[Evidence | str | Answer]:
    """Yields the Evidence (hits and their closest sentences) as soon as retrieval is done, then text
    pieces as the model writes them (on a budget that leads, a first sentence from the best source
    first: see first_draft), then the final verified Answer. When verification rejects a whole answer
    the model did not refuse, the question is asked once more with one source, the one that answer is
    about (cite.draft_source; settings.retry_with_top_source), after a RETRY_NOTE piece."""
    settings = settings or get_settings()
    started = time.perf_counter()
    standalone = standalone_question(question, history, settings)
    budget = current_budget(k or settings.k, settings)
    hits = relevant_hits(standalone, budget, year, settings)
    timings = {"retrieve": time.perf_counter() - started}
    yield evidence(standalone, hits, settings)
    if not hits:
        timings.update(ttft=0.0, generate=0.0, total=time.perf_counter() - started)
        yield refusal(question, standalone, hits, timings)
        return
    generated_at = time.perf_counter()
    model, messages = get_llm(settings), answer_messages(standalone, hits)
    latest, raw, tokens = yield from first_draft(model, messages, standalone, hits, budget, timings, started)
    rejected, judged_before = Counter(), judge_calls(model, settings)
    text, citations = checked(standalone, latest, hits, settings, model, messages, rejected)
    if not text and settings.extract_when_rejected:
        text, citations = extracted(standalone, hits, settings, model)
    if not text and not opens_with_refusal(latest) and len(hits) > 1 and settings.retry_with_top_source:
        yield RETRY_NOTE
        number = draft_source(latest, hits)
        messages = answer_messages(standalone, source_alone(standalone, hits, number, settings))
        retried = yield from draft(model, messages, timings, started)
        text, citations = checked(standalone, cite_the_only_source(retried, number), hits, settings, model, messages,
                                  rejected)
        raw, tokens = raw + RETRY_NOTE + retried, tokens + prompt_tokens(model, messages)
    timings.setdefault("ttft", time.perf_counter() - started)
    timings["generate"] = time.perf_counter() - generated_at
    timings["total"] = time.perf_counter() - started
    answer = (refusal(question, standalone, hits, timings, raw) if not text else
              Answer(text=text, refused=False, citations=citations, contexts=hits, timings=timings,
                     question=question, standalone_question=standalone, raw_text=raw))
    answer.prompt_tokens = tokens
    answer.rejected = dict(rejected)
    answer.judge_calls, answer.judge_tokens = (now - before for now, before in zip(judge_calls(model, settings), judged_before))
    yield answer


def ask(question: str, k: int | None = None, history: History | None = None, year: int | None = None,
        settings: Settings | None = None) -> Answer:
    """Answer a question from the indexed abstracts, every sentence cited and checked."""
    *_, answer = ask_stream(question, k=k, history=history, year=year, settings=settings)
    return answer


def model_speed(settings: Settings | None = None) -> dict:
    """The answer model, its measured prefill rate (a local model, once warmed up or asked) and the
    prompt budget that rate gives. Loads nothing."""
    settings = settings or get_settings()
    rate = prefill_rate(settings)
    return {"model": settings.llm, "prefill_tokens_per_s": None if rate is None else round(rate, 1),
            "first_token_target_s": settings.first_token_target_s,
            "prompt_budget": prompt_budget(settings.k, rate, settings).describe()}


def warm_up(settings: Settings | None = None) -> bool:
    """Loads the local model and prefills the start that every answer prompt shares (llama.cpp keeps
    the longest common token prefix between calls), then the retriever and the support checker, so
    the first question is as fast as the next. A hosted backend is left alone. Meant for a background
    thread: errors are printed, not raised (the first question reports them). Returns whether a
    prompt was prefilled."""
    settings = settings or get_settings()
    try:
        model = get_llm(settings) if settings.llm != "openai" else None
        prefilled = isinstance(model, LlamaCppChat)
        if prefilled:
            model.invoke(answer_prompt_start(), max_tokens=1)
        search("warm up", k=1, settings=settings)
        if model is not None and get_checker(settings, model).judge is None:
            get_checker(settings, model).nli  # the feature checker's NLI model loads on first use
        return prefilled
    except Exception as err:
        print(f"warm-up skipped: {type(err).__name__}: {err}", file=sys.stderr)
        return False
