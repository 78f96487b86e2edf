"""Compose stage: complete a verified answer from the sources' own sentences.

A small model answers one part of a multi-part question and one paper of a question about several.
After verification, each part of the question that the kept sentences leave unanswered gets the
sentence of a cited (or named) source that answers it best, copied verbatim with its citation and
kept once the support checker accepts it, like every answer sentence; an amount no source sentence
gives gets a note saying the abstracts do not say it. A paper the question names that the answer
leaves out gets its closest sentence, and an answer about several papers is one line per paper."""
from __future__ import annotations

import re

from .cite import markers_in, normal, short_name, strip_markers
from .evidence import PART_BREAK
from .support import SupportChecker, content_words, split_sentences
from .types import Citation, Hit

# opens the line for a question part that no source sentence answers (not a claim: it cites nothing)
NOT_IN_SOURCES = "The abstracts do not say"
# how a per-paper line opens: "- **ZipNN**: ", or "- " when its sentence names the paper
PAPER_LEAD = re.compile(r"^\s*-\s(\*\*[^*\n]+\*\*:\s)?")
# least share of a part's content words a source sentence must hold to answer that part
PART_FLOOR = 0.34
# a part counts as answered when an answer sentence holds this share of its content words
ANSWERED_SHARE = 0.5
# a part asking for an amount is answered only by a sentence with a number
AMOUNT = re.compile(r"\b(how (much|many|far|fast|large|big|long)|what (score|gain|speed|accuracy|cost|budget|size|"
                    r"rate|percentage|share|number|improvement|reduction))|\bby how\b", re.IGNORECASE)
HAS_NUMBER = re.compile(r"\d|\b(hundred|thousand|million|billion|trillion|twice|half|double|triple)\b", re.IGNORECASE)
# source sentences tried per part, best first, until the support checker accepts one
CANDIDATES_CHECKED = 3
# a source sentence the answer holds this share of the words of is said already
SAID_SHARE = 0.6
# a part asking which paper or method: the answer's citation and the name it gives answer it
WHICH_WORK = re.compile(r"^\W*(which|what)\s+(\S+\s+){0,3}?(works?|papers?|stud(y|ies)|methods?|models?|systems?|"
                        r"approach(es)?|techniques?|frameworks?|procedures?|algorithms?|architectures?|recipes?)\b",
                        re.IGNORECASE)
# a question about several papers: one line per paper
SEVERAL_PAPERS = re.compile(r"\b(which|what) (\S+ ){0,2}(papers|works|studies|methods|approaches|models|systems)\b"
                            r"|\b(each|both|differ|compare|contrast)\b", re.IGNORECASE)
# what a part asks about, without the words that only ask ("which work ...", "what ... does it report")
ASKING = frozenset(content_words("which what how why when where who does do did is are was were can much many far "
                                 "work study paper approach method report reports give gives find"))


def question_parts(question: str) -> list[str]:
    return [p.strip(" ,") for p in PART_BREAK.split(question) if content_words(p) - ASKING]


def open_parts(question: str) -> list[str]:
    """The parts an answer must say something about (naming the work answers a "which work" part)."""
    return [p for p in question_parts(question) if not WHICH_WORK.search(p)]


def part_words(part: str, named: list[Hit]) -> set[str]:
    """What the part asks about, without the names of the papers it names (their every sentence holds them)."""
    names = set().union(*(content_words(short_name(h.title)) for h in named)) if named else set()
    return (content_words(part) - ASKING - names) or (content_words(part) - ASKING)


def same_word(a: str, b: str) -> bool:
    """Stems of one word ("scal" of scales, "scale"): one starts the other, four letters or more."""
    return a == b or min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a))


def share(asked: set[str], sentence: str) -> float:
    said = content_words(sentence)
    return sum(any(same_word(word, w) for w in said) for word in asked) / len(asked) if asked else 0.0


def answers_part(part: str, asked: set[str], sentence: str, floor: float) -> bool:
    return share(asked, sentence) >= floor and (not AMOUNT.search(part) or bool(HAS_NUMBER.search(sentence)))


def answered(part: str, asked: set[str], sentence: str) -> bool:
    """An answer sentence answers the part: most of its words, or, for an amount, a number beside one of them."""
    if AMOUNT.search(part):
        return bool(HAS_NUMBER.search(sentence)) and share(asked, sentence) > 0
    return share(asked, sentence) >= ANSWERED_SHARE


def name_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def named_sources(question: str, hits: list[Hit]) -> list[int]:
    """Sources the question names by their short name ("How do H2O and SCOPE differ ...")."""
    said = re.findall(r"[\w.-]+", question)
    spans = {name_key(" ".join(said[i:i + size])) for size in (1, 2, 3, 4) for i in range(len(said))}
    return [n for n, h in enumerate(hits, start=1) if len(name_key(short_name(h.title))) > 2
            and name_key(short_name(h.title)) in spans]


def best_sentence(part: str, asked: set[str], sources: list[int], hits: list[Hit], taken: set[str],
                  checker: SupportChecker | None, must_answer: bool = True) -> tuple[int, str] | None:
    """The source sentence answering the part best, if one answers it (or, must_answer False, the
    closest one holding any of its words), among the few best that the checker finds supported by
    their own abstract (a sentence is added only as every answer sentence is kept: checked)."""
    candidates = sorted(((share(asked, s), -rank, n, s) for rank, n in enumerate(sources)
                         for s in split_sentences(hits[n - 1].abstract or hits[n - 1].text)
                         if normal(s) not in taken and share(asked, s) > 0
                         and (answers_part(part, asked, s, PART_FLOOR) or not must_answer)), reverse=True)
    for *_, n, sentence in candidates[:CANDIDATES_CHECKED]:
        if checker is None or checker.supports(sentence, hits[n - 1].abstract or hits[n - 1].text):
            return n, sentence
    return None


def cited_line(n: int, sentence: str) -> str:
    body = sentence.rstrip()
    end = body[-1] if body[-1:] in ".!?" else "."
    return f"{body.rstrip('.!?')} [{n}]{end}"


def missing_part(part: str) -> str:
    return f'{NOT_IN_SOURCES} "{part.rstrip("?")}".'


def said_already(sentence: str, answer: list[str]) -> bool:
    """The answer holds most of the sentence's words already."""
    return any(share(content_words(sentence), strip_markers(s)) >= SAID_SHARE for s in answer)


def added_sentences(question: str, sentences: list[str], hits: list[Hit], sources: list[int],
                    named: list[int], checker: SupportChecker | None) -> list[str]:
    """For a question of several parts: a cited source sentence for each part the answer leaves open,
    or, for an amount no source sentence gives, a note that the abstracts do not say."""
    added: list[str] = []
    taken = {normal(s) for n in sources for s in split_sentences(hits[n - 1].abstract or hits[n - 1].text)
             if said_already(s, sentences)}
    if len(question_parts(question)) < 2:
        return added
    for part in open_parts(question):
        asked = part_words(part, [hits[n - 1] for n in named])
        if any(answered(part, asked, strip_markers(s)) for s in sentences + added):
            continue
        found = best_sentence(part, asked, sources, hits, taken, checker)
        if found:
            added.append(cited_line(*found))
            taken.add(normal(found[1]))
        elif AMOUNT.search(part):
            added.append(missing_part(part))
    return added


def named_paper_sentences(question: str, sentences: list[str], hits: list[Hit], named: list[int],
                          checker: SupportChecker | None) -> list[str]:
    """For each paper the question names that the answer does not cite: its sentence closest to the question."""
    uncited = [n for n in named if not any(n in markers_in(s) for s in sentences)]
    asked = part_words(question, [hits[n - 1] for n in named])
    found = [best_sentence(question, asked, [n], hits, set(), checker, must_answer=False) for n in uncited]
    return [cited_line(*pick) for pick in found if pick]


def said_once(sentences: list[str]) -> list[str]:
    """The sentences without repeats (two drafts' sentences can give way to one source sentence)."""
    kept: dict[str, str] = {}
    for sentence in sentences:
        kept.setdefault(normal(strip_markers(sentence)), sentence)
    return list(kept.values())


def claim_of(sentence: str) -> str | None:
    """What an answer sentence claims, without a per-paper line's lead; None for a missing-part note."""
    sentence = PAPER_LEAD.sub("", sentence)
    return None if sentence.startswith(NOT_IN_SOURCES) else sentence


def about_several_papers(question: str, named: list[int]) -> bool:
    return len(named) >= 2 or bool(SEVERAL_PAPERS.search(question))


def per_paper_lines(sentences: list[str], hits: list[Hit]) -> str:
    """One line per cited paper, its sentences in answer order, led by its short name unless its first
    sentence names it."""
    lines: dict[int, list[str]] = {}
    notes = []
    for sentence in sentences:
        cited = markers_in(sentence)
        (lines.setdefault(cited[0], []) if cited else notes).append(sentence)
    if len(lines) < 2:
        return " ".join(sentences)
    rows = [f"- {' '.join(said)}" if name_key(short_name(hits[n - 1].title)) in name_key(said[0])
            else f"- **{short_name(hits[n - 1].title)}**: {' '.join(said)}" for n, said in lines.items()]
    return "\n".join(rows + notes)


def complete_answer(question: str, text: str, citations: list[Citation], hits: list[Hit],
                    checker: SupportChecker | None = None) -> tuple[str, list[Citation]]:
    """The verified answer with a cited source sentence for each part it leaves open (from the cited
    sources and those the question names), laid out one line per paper when it cites several."""
    if not text:
        return text, citations
    named = named_sources(question, hits)
    sources = list(dict.fromkeys([c.n for c in citations] + named))
    sentences = said_once(split_sentences(text))
    sentences += named_paper_sentences(question, sentences, hits, named, checker)
    sentences += added_sentences(question, sentences, hits, sources, named, checker)
    quotes = {c.n: c for c in citations}
    for sentence in sentences:
        for n in markers_in(sentence):
            quotes.setdefault(n, Citation(n=n, paper_id=hits[n - 1].paper_id, title=hits[n - 1].title,
                                          quote=strip_markers(sentence), date=hits[n - 1].date))
    text = per_paper_lines(sentences, hits) if about_several_papers(question, named) else " ".join(sentences)
    return text, [quotes[n] for n in sorted(quotes)]
