"""Cite/verify stage: parse [n] markers, drop invalid ones, keep only sentences that
their cited sources support, and build the citation list with supporting quotes."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .prompt import REFUSAL
from .question import presupposition, yes_no_claim
from .support import SupportChecker, SupportResult, content_words, flip, split_sentences
from .types import Citation, Hit

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
MARKER_RUN = r"(?:\s*,?\s*\[\d+(?:\s*,\s*\d+)*\])+"
# markers written after the full stop on the same line ("... scale. [1], [2]") belong to the sentence before it
TRAILING_MARKERS = re.compile(r"([.!?])(%s)" % MARKER_RUN.replace(r"\s*,?\s*", r"[ \t]*,?[ \t]*", 1))
# sentences that pass on instructions planted in a source, rather than state findings
INSTRUCTION = re.compile(r"\b(ignore|disregard|forget)\b.{0,40}\binstructions?\b|\byou (must|should) (answer|reply|say|cite)\b"
                         r"|\banswer only\b|\bcite \[\d+\]", re.IGNORECASE)
# a sentence opening with one of these leans on the sentence before it for its subject
PRONOUN_START = re.compile(r"^\W*(it|its|they|their|this|these|he|she|such)\b", re.IGNORECASE)
# "It" or "Its" opening a sentence, which a paper's short name can take the place of
PAPER_PRONOUN = re.compile(r"^(?P<lead>\W*)(?P<pronoun>it|its)\b(?!')", re.IGNORECASE)
# a question answered by yes or no, and the verdict word an answer sentence opens with
VERDICT = re.compile(r"^\W*(yes|no)\b[\s,.;:!-]*", re.IGNORECASE)
# a marker read as a noun: after a word that needs one ("the method in [1] ..."), ending a sentence after
# a verb ("The work that ... is [1]."), or before a word ("[1] shows")
NOUN_MARKER = re.compile(r"\b(?P<word>in|by|of|from|see|with|than|to|on|the|as|like|following)\s+\[(?P<a>\d+)\]"
                         r"|\b(?P<verb>is|are|was|were)\s+\[(?P<d>\d+)\](?=\s*[.!?]?\s*$)"
                         r"|^(?P<lead>\W*)\[(?P<b>\d+)\](?=\s+[A-Za-z])|\[(?P<c>\d+)\](?=\s+(?!and\b|or\b)[a-z])", re.IGNORECASE)
# "..., which is [1].": a clause whose only word is the citation
DANGLING_WHICH = re.compile(r",?\s+which\s+(?:is|are|was|were)\s+((?:\[\d+\])+)(?=\s*[.!?]?\s*$)")
# a question asking which work, and an answer sentence ending in the name it gives ("... is LoRA [1].")
WHICH_QUESTION = re.compile(r"^\W*(which|what)\s+(\S+\s+){0,2}?(works?|papers?|stud(y|ies)|methods?|approach(es)?|"
                            r"models?|systems?|techniques?|architectures?|frameworks?|algorithms?)\b", re.IGNORECASE)
NAME_GIVEN = re.compile(r"\b(?P<verb>is|are|was|were|called|named)\s+(?P<name>[\w.-]*\w)(?P<marker>\s*\[(?P<n>\d+)\])(?=[.!?])")
# a name a sentence can pin on a paper: an acronym ("ODM") or a word with a digit or an inner capital ("GPT-3", "LoRA")
SAID_NAME = re.compile(r"\b(?=[\w-]*(?:\d|[a-z][A-Z]|[A-Z]{2}))[A-Za-z][\w-]*[A-Za-z0-9]\b")
# a rejected sentence sharing this share of its words with a sentence of its cited source is a near copy of it
NEAR_COPY = 0.8
# a source that was not cited must clear this higher bar before its marker is added
UNCITED_MARGIN = 0.2
# the judge's Yes-No logit on a yes/no question beyond which a source gives that verdict
VERDICT_MARGIN = 1.0


@dataclass
class VerifiedSentence:
    text: str                # without markers
    sources: list[int]       # 1-based source numbers that support it
    quotes: dict[int, str]


def markers_in(sentence: str) -> list[int]:
    return [int(n) for group in MARKER.findall(sentence) for n in group.split(",")]


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(MARKER_RUN, "", sentence)).strip()


def attach_trailing_markers(text: str) -> str:
    return TRAILING_MARKERS.sub(lambda m: m.group(2) + m.group(1), text)


def short_name(title: str) -> str:
    """How a sentence names a paper: the title's part before its colon ("ZipNN"), else the whole title."""
    head = title.split(":")[0].strip()
    return head if ":" in title and head else title.strip()


def pronoun_named(verified: VerifiedSentence, hits: list[Hit]) -> VerifiedSentence:
    """A sentence opening with "It" or "Its" whose claim before it went: the pronoun becomes the short
    name of the paper it cites ("It saves 33%" -> "ZipNN saves 33%"), where its title gives one."""
    title = hits[verified.sources[0] - 1].title if len(verified.sources) == 1 else ""
    if ":" not in title:
        return verified
    name = short_name(title)

    def named(match: re.Match) -> str:
        return match.group("lead") + name + ("'s" if match.group("pronoun").lower() == "its" else "")
    return VerifiedSentence(PAPER_PRONOUN.sub(named, verified.text, count=1), verified.sources, verified.quotes)


def name_cited_papers(sentence: str, hits: list[Hit]) -> str:
    """Markers used as nouns ("The algorithm in [1] matches REDQ") become the paper's short name, and
    the marker moves to the end, so removing markers leaves no hole ("The algorithm in ZipNN ... [1].")."""
    named = []

    def name(match: re.Match) -> str:
        n = int(match.group("a") or match.group("b") or match.group("c") or match.group("d"))
        if not 1 <= n <= len(hits):
            return match.group(0)
        named.append(n)
        word = match.group("word") or match.group("verb")
        lead = word + " " if word else match.group("lead") or ""
        name = short_name(hits[n - 1].title)
        before, after = normal(match.string[:match.start()]), normal(match.string[match.end():])
        if before.endswith(normal(name)) or after.startswith(normal(name)):  # "LISA [1] uses": named already
            return lead.rstrip()
        return lead + name

    text = re.sub(r"(?<=\S)  +", " ", NOUN_MARKER.sub(name, DANGLING_WHICH.sub(r" \1", sentence))).lstrip()
    missing = [n for n in named if n not in markers_in(text)]
    if not missing:
        return text
    body, end = (text.rstrip()[:-1], text.rstrip()[-1]) if text.rstrip()[-1:] in ".!?" else (text.rstrip(), "")
    return body + " " + "".join(f"[{n}]" for n in missing) + end


def cite_the_only_source(text: str, number: int = 1) -> str:
    """A reply written from one source: every sentence cites it as [number], whether the model left it
    without a marker or gave it any number of its own (its prompt had only [1])."""
    marker = f"[{number}]"

    def one_source(sentence: str) -> str:
        if is_refusal(sentence):
            return sentence
        if not markers_in(sentence):
            return add_markers(VerifiedSentence(sentence, [number], {}))
        return re.sub(r"(%s)(?:\s*,?\s*%s)+" % (re.escape(marker), re.escape(marker)), r"\1", MARKER.sub(marker, sentence))
    return " ".join(one_source(s) for s in split_sentences(attach_trailing_markers(text)))


def title_names(title: str) -> set[str]:
    """The words of a title that name a method or model: a digit, or a capital after the first letter
    of a part ("ZipNN", "M2-BERT", "LLaMA"); not a short acronym ("LLM", "LLMs", "RAG") nor a
    capitalised compound ("Long-Context")."""
    def is_name(word: str) -> bool:
        return bool(re.search(r"\d", word)) or any(re.search(r"[A-Z]", part[1:]) for part in word.split("-"))
    words = re.findall(r"[A-Za-z][\w-]*\w", title)
    return {w for w in words if is_name(w) and not re.fullmatch(r"[A-Z]{1,4}s?", w)}


def draft_source(text: str, hits: list[Hit]) -> int:
    """The source a draft is about: the only hit whose title's name it says, else the one it cites
    most (the lowest among equals), else the best hit."""
    named = [n for n, hit in enumerate(hits, 1)
             if any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text) for w in title_names(hit.title))]
    return named[0] if len(named) == 1 else most_cited_source(text, len(hits))


def most_cited_source(text: str, n_sources: int) -> int:
    """The source number a reply cites most (the lowest among equals), else 1."""
    cited = [n for n in markers_in(text) if 1 <= n <= n_sources]
    return min(set(cited), key=lambda n: (-cited.count(n), n)) if cited else 1


def is_refusal(text: str) -> bool:
    normalised = re.sub(r"\W+", " ", text.lower())
    return re.sub(r"\W+", " ", REFUSAL.lower()).strip() in normalised or not normalised.strip()


def opens_with_refusal(text: str) -> bool:
    """The model refused: its first sentence is the refusal (one appended to an answer is dropped instead)."""
    sentences = split_sentences(text)
    return not sentences or is_refusal(sentences[0])


def source_text(hit: Hit) -> str:
    """What a sentence is checked against: the cited paper's title and whole abstract (the citation names the paper)."""
    return f"{hit.title}.\n{hit.abstract or hit.text}" if hit.title else hit.abstract or hit.text


def source_texts(hits: list[Hit]) -> list[str]:
    return [source_text(hit) for hit in hits]


def supported_by(text: str, cited: list[int], hits: list[Hit], checker: SupportChecker,
                 results: list[SupportResult], context=None) -> dict[int, SupportResult]:
    """The cited sources that support the sentence, alone or, failing that, together."""
    supported = {n: results[n - 1] for n in cited if results[n - 1].score >= checker.threshold}
    if not supported and len(cited) > 1:
        joint = checker.check_many(text, ["\n".join(source_texts([hits[n - 1] for n in cited]))], figures_copied=True,
                                   context=context)[0]
        if joint.score >= checker.threshold:
            supported = {n: results[n - 1] for n in cited}
    return supported


def normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def is_a_title(text: str, hits: list[Hit]) -> bool:
    """A bare paper title says nothing about the question."""
    return normal(text) in {normal(h.title) for h in hits}


def names_an_unsupporting_source(text: str, supporting: list[int], hits: list[Hit]) -> bool:
    """The sentence calls a source by its short name (a title's part before the colon: "ZipNN") while
    that source is not among those supporting it, or says a name ("ODM", "GPT-3") that another source
    writes and no supporting one does: the claim is pinned on the wrong paper."""
    said = f" {normal(text)} "
    if any(f" {normal(h.title.split(':')[0])} " in said for n, h in enumerate(hits, start=1)
           if ":" in h.title and n not in supporting):
        return True
    written = [set(SAID_NAME.findall(f"{h.title} {h.abstract or h.text}")) for h in hits]
    theirs = set().union(*(w for n, w in enumerate(written, start=1) if n not in supporting))
    ours = set().union(*(w for n, w in enumerate(written, start=1) if n in supporting))
    return bool((set(SAID_NAME.findall(text)) & theirs) - ours)


def names_only(text: str, hits: list[Hit]) -> bool:
    """A bare title or a name of a word or two: no claim to check, not kept, but a subject for the next sentence."""
    return len(text.split()) < 3 or is_a_title(text, hits)


def best_source(results: list[SupportResult]) -> int:
    return 1 + max(range(len(results)), key=lambda i: results[i].score)


def verify_sentence(sentence: str, hits: list[Hit], checker: SupportChecker,
                    results: list[SupportResult], context=None) -> VerifiedSentence | None:
    """results: the sentence checked against every source."""
    text = strip_markers(sentence)
    if names_only(text, hits) or INSTRUCTION.search(sentence) or is_refusal(sentence):
        return None
    cited = [n for n in dict.fromkeys(markers_in(sentence)) if 1 <= n <= len(hits)]
    supported = supported_by(text, cited, hits, checker, results, context)
    if not supported:
        best = best_source(results)
        if results[best - 1].score >= min(1.0, checker.threshold + UNCITED_MARGIN):
            supported = {best: results[best - 1]}
    if not supported or names_an_unsupporting_source(text, list(supported), hits):
        return None
    return VerifiedSentence(text, sorted(supported), {n: r.quote for n, r in supported.items()})


def source_copy(sentence: str, hits: list[Hit], checker: SupportChecker) -> VerifiedSentence | None:
    """A rejected sentence that is a near copy of a sentence of the source it cites (a number or a word
    changed) gives way to that sentence, verbatim, once the checker finds it supported there."""
    text = strip_markers(sentence)
    said = content_words(text)
    if names_only(text, hits) or INSTRUCTION.search(sentence) or len(said) < 4:
        return None
    for n in dict.fromkeys(markers_in(sentence)):
        if 1 <= n <= len(hits):
            for copy in split_sentences(hits[n - 1].abstract or hits[n - 1].text):
                if (len(said & content_words(copy)) >= NEAR_COPY * len(said) and not INSTRUCTION.search(copy)
                        and checker.supports(copy, source_text(hits[n - 1]))):
                    return VerifiedSentence(copy, [n], {n: copy})
    return None


def rejection(sentence: str, results: list[SupportResult]) -> str:
    """Which check turned a sentence down: its cited source's deciding check (support.CHECKS), else
    the best source's; "rule" when a verification rule (a bare name, a wrong paper's name) did."""
    cited = [n for n in markers_in(sentence) if 1 <= n <= len(results)]
    result = max((results[n - 1] for n in cited), key=lambda r: r.score) if cited else results[best_source(results) - 1]
    return result.reason if result.score < 0.5 or result.reason != "copy" else "rule"


def verified_sentences(raw_text: str, hits: list[Hit], checker: SupportChecker, context=None,
                       rejected: Counter | None = None) -> list[VerifiedSentence]:
    """The supported sentences. One whose subject is a pronoun goes when the claim before it went,
    unless that claim cited the source matching it best and the same source supports this one
    (the pronoun then names that paper, and "It" becomes its name); a bare name before it still counts
    as its subject."""
    kept, previous_kept, previous_subject = [], True, set()
    for sentence in split_sentences(attach_trailing_markers(raw_text)):
        sentence = name_cited_papers(sentence, hits)
        results = checker.check_many(strip_markers(sentence), source_texts(hits), figures_copied=True,
                                     cited=markers_in(sentence), context=context)
        verified = verify_sentence(sentence, hits, checker, results, context) or source_copy(sentence, hits, checker)
        if verified and not previous_kept and PRONOUN_START.search(sentence):
            verified = pronoun_named(verified, hits) if set(verified.sources) <= previous_subject else None
        if verified:
            kept.append(verified)
        elif rejected is not None and not names_only(strip_markers(sentence), hits):
            rejected[rejection(sentence, results)] += 1
        previous_kept = verified is not None or names_only(strip_markers(sentence), hits)
        previous_subject = {best_source(results)} & set(markers_in(sentence))
    return kept


def verify_answer(raw_text: str, hits: list[Hit], checker: SupportChecker, context=None,
                  rejected: Counter | None = None) -> tuple[str, list[Citation]]:
    """The answer text with only supported sentences and valid markers, and its citations.
    Empty text means nothing supported was left. context: the answer prompt and reply, which the
    checker's judge extends (rag.judge.answer_context). rejected: counts the sentences each check turned down."""
    if not hits or opens_with_refusal(raw_text):
        return "", []
    kept = verified_sentences(raw_text, hits, checker, context, rejected)
    text = " ".join(add_markers(v) for v in kept)
    quotes: dict[int, str] = {}
    for v in kept:
        for n in v.sources:
            quotes.setdefault(n, v.quotes[n])
    citations = [Citation(n=n, paper_id=hits[n - 1].paper_id, title=hits[n - 1].title, quote=quotes[n],
                          date=hits[n - 1].date) for n in sorted(quotes)]
    return text, citations


def add_markers(sentence: VerifiedSentence) -> str:
    body, end = (sentence.text[:-1], sentence.text[-1]) if sentence.text[-1:] in ".!?" else (sentence.text, ".")
    return body + " " + "".join(f"[{n}]" for n in sentence.sources) + end


def question_claim(question: str) -> str | None:
    """A yes/no question as the claim it asks about: "Does X improve Y?" -> "X improve Y."."""
    return yes_no_claim(question)


def judged_answer(question: str, claim: str, sources: list[int], hits: list[Hit],
                  checker: SupportChecker) -> tuple[str | None, int | None, str]:
    """The judge's answer to a yes/no question from each source's sentences closest to its claim:
    ("Yes" or "No", the source giving it, its closest sentence) when a source gives it by more than
    VERDICT_MARGIN and none gives the other; (None, None, "") otherwise."""
    from .judge import answers_messages
    said: dict[str, tuple[int, str]] = {}
    for n in sources:
        row = checker.cheap_rows(claim, [source_text(hits[n - 1])])[0]
        logit = checker.judge.score(answers_messages(question, row.passage))
        if abs(logit) > VERDICT_MARGIN:
            said.setdefault("Yes" if logit > 0 else "No", (n, row.quote))
    if len(said) != 1:
        return None, None, ""
    (word, (n, quote)), = said.items()
    return word, n, quote


def judged_verdict(question: str, claim: str, sources: list[int], hits: list[Hit], checker: SupportChecker) -> str | None:
    return judged_answer(question, claim, sources, hits, checker)[0]


def quoted(n: int, sentence: str, hits: list[Hit]) -> str:
    """A source's own sentence shown as a quotation attributed to its paper."""
    return f'{short_name(hits[n - 1].title)}: "{sentence.rstrip()}" [{n}]'


def without_verdict(text: str) -> str:
    said = VERDICT.match(text)
    rest = text[said.end():] if said else text
    return rest[:1].upper() + rest[1:]


def add_citation(citations: list[Citation], n: int, quote: str, hits: list[Hit]) -> list[Citation]:
    if any(c.n == n for c in citations):
        return citations
    hit = hits[n - 1]
    return sorted(citations + [Citation(n=n, paper_id=hit.paper_id, title=hit.title, quote=quote, date=hit.date)],
                  key=lambda c: c.n)


def asked_sources(citations: list[Citation], draft: str, hits: list[Hit]) -> list[int]:
    """The sources a verdict is asked of: those the verified answer cites, else those the draft cited, else the best hit."""
    cited = [c.n for c in citations] or [n for n in dict.fromkeys(markers_in(draft)) if 1 <= n <= len(hits)]
    return cited or [1]


def verdict_first(question: str, text: str, citations: list[Citation], draft: str, hits: list[Hit],
                  checker: SupportChecker) -> tuple[str, list[Citation]]:
    """A yes/no question's answer opens with the judge's verdict when a source gives one ("No, according
    to ZeroI2V [1].") and the model's own "Yes"/"No" goes; with no verified sentence left, the source's
    sentence closest to the question's claim follows as a quote. No verdict: the sentences stand alone."""
    claim = yes_no_claim(question)
    if claim is None:
        return text, citations
    word, n, quote = judged_answer(question, claim, asked_sources(citations, draft, hits), hits, checker)
    if word is None:
        return without_verdict(text), citations
    rest = without_verdict(text) if text else quoted(n, quote, hits) + "."
    return f"{word}, according to {short_name(hits[n - 1].title)} [{n}]. {rest}", add_citation(citations, n, quote, hits)


def premise_first(question: str, text: str, citations: list[Citation], draft: str, hits: list[Hit],
                  checker: SupportChecker) -> tuple[str, list[Citation]]:
    """When a source answers "no" to what the question takes for granted ("Why does X need Y?": does X
    need Y?), the answer opens by saying so, quoting that source's closest sentence."""
    assumed = presupposition(question)
    if assumed is None:
        return text, citations
    claim = yes_no_claim(assumed) or assumed
    word, n, quote = judged_answer(assumed, claim, asked_sources(citations, draft, hits), hits, checker)
    if word != "No":
        return text, citations
    correction = f"The abstracts do not support what the question assumes. {quoted(n, quote, hits)}."
    return (correction + " " + text).strip(), add_citation(citations, n, quote, hits)


def verdict(question: str, sources: list[int], hits: list[Hit], checker: SupportChecker) -> str | None:
    """"Yes" when a cited source supports the question's claim, "No" when one supports its opposite."""
    claim = question_claim(question)
    if claim is None or not sources:
        return None
    if checker.judge is not None:
        return judged_verdict(question, claim, sources, hits, checker)
    texts = source_texts([hits[n - 1] for n in sources])
    yes = max(r.score for r in checker.check_many(claim, texts))
    no = max(r.score for r in checker.check_many(flip(claim), texts))
    if max(yes, no) < checker.threshold:
        return None
    return "Yes" if yes >= no else "No"


def checked_verdict(question: str, text: str, citations: list[Citation], hits: list[Hit],
                    checker: SupportChecker) -> str:
    """An answer opening with "Yes" or "No" keeps that word only when the checker reaches the same
    verdict on the question against the cited sources; otherwise the word goes and the verified
    sentences stand on their own."""
    said = VERDICT.match(text)
    if said is None:
        return text
    numbers = [c.n for c in citations]
    if verdict(question, numbers, hits, checker) == said.group(1).capitalize():
        return text
    rest = text[said.end():]
    return rest[:1].upper() + rest[1:]


def name_not_echoing_the_question(question: str, text: str, hits: list[Hit]) -> str:
    """A which-question answered with a name the question itself uses ("Which method gets around LoRA's
    bound?" - "... is LoRA [1].") gets the cited paper's short name instead, where its title gives one
    the question does not use."""
    if not WHICH_QUESTION.match(question):
        return text
    asked = set(re.findall(r"[\w.-]*\w", question.lower().replace("'s", "")))

    def cited_name(match: re.Match) -> str:
        n, name = int(match.group("n")), match.group("name")
        title = hits[n - 1].title if 1 <= n <= len(hits) else ""
        own = short_name(title)
        is_a_name = re.search(r"[A-Z0-9]", name)  # "LoRA", "GPT-3"; not "efficient"
        if not is_a_name or name.lower() not in asked or ":" not in title or normal(own) in normal(question) or name == own:
            return match.group(0)
        return f"{match.group('verb')} {own}{match.group('marker')}"
    return NAME_GIVEN.sub(cited_name, text)
