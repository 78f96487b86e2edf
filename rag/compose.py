"""Compose stage: complete a verified answer from the sources' own sentences.

A small model answers one part of a multi-part question and one paper of a question about several.
After verification, each part of the question that the kept sentences leave unanswered gets the
sentence of a cited (or named) source that answers it best, copied verbatim with its citation and
kept once the support checker accepts it, like every answer sentence; an amount no source sentence
gives gets a note saying the abstracts do not say it. A paper the question names that the answer
leaves out gets its closest sentence, and each cited paper gives its result sentences (with numbers)
closest to the question that the answer does not say yet. An answer about several papers is one line
per paper.
When the question describes one work that one source's abstract clearly holds, a kept sentence
citing only other sources is dropped. When nothing of the draft was kept, a question naming
two or more sources, or describing one work that one source clearly holds, is answered from those
sources' sentences alone (extracted_answer)."""
from __future__ import annotations

import re

from .cite import markers_in, normal, short_name, strip_markers
from .evidence import PART_BREAK
from .support import SupportChecker, content_words, numbers, split_sentences
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
AMOUNT = re.compile(r"\b(how (much|many|far|fast|large|big|long|often)|what (score|gain|speed|accuracy|cost|budget|size|"
                    r"rate|percentage|share|number|improvement|reduction|factor))|\b(by|up to) (how|what)\b", re.IGNORECASE)
HAS_NUMBER = re.compile(r"\d|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundreds?|thousands?|"
                        r"millions?|billions?|trillions?|twice|half|halves|doubles?|triples?)\b", re.IGNORECASE)
# an amount part no sentence answers by its words takes the source sentence with a number closest in
# meaning to the question, when at least this close (MiniLM cosine)
AMOUNT_SIMILARITY = 0.25
# source sentences tried per part, best first, until the support checker accepts one
CANDIDATES_CHECKED = 3
# a source sentence the answer holds this share of the words of is said already
SAID_SHARE = 0.6
# a part asking which paper or method: the answer's citation and the name it gives answer it
WHICH_WORK = re.compile(r"^\W*(which|what)\s+(?!(did|does|do|is|are|was|were|can|could|has|have)\b)(\S+\s+){0,3}?(works?|papers?|stud(y|ies)|methods?|models?|systems?|"
                        r"approach(es)?|techniques?|frameworks?|procedures?|algorithms?|architectures?|recipes?|"
                        r"engines?|optimizers?|benchmarks?|datasets?|llms?|strateg(y|ies)|analys[ie]s|extensions?)\b",
                        re.IGNORECASE)
# a question about several papers: one line per paper
SEVERAL_PAPERS = re.compile(r"\b(which|what) (\S+ ){0,2}(papers|works|studies|methods|approaches|models|systems)\b"
                            r"|\b(each|both|differ|compare|contrast)\b", re.IGNORECASE)
# a "which work ..." description names the source whose abstract holds this share of its words,
WORK_MATCH = 0.6
# when no other source's abstract comes within this share of it
WORK_MARGIN = 0.15
# a source sentence with more numbers replaces an answer sentence holding its numbers and this share of its words
FULLER_SHARE = 0.5
# sentences of each paper an answer extracted from the sources gives
EXTRACTED_PER_PAPER = 2
# result sentences (holding a number) of the cited papers an answer adds, at most, in all
RESULTS_IN_ALL = 4
# a result sentence is added when its MiniLM cosine to the question, plus this weight times the share of
# the question's words it holds, reaches RESULT_CLOSENESS
RESULT_WORDS_WEIGHT = 0.3
RESULT_CLOSENESS = 0.2
# "The work that ... is [1].": the citation stands for the name the sentence ends on
NAME_AT_END = re.compile(r"^(The\s+(?:\S+\s+){0,3}?(?:work|paper|study|method|model|system|approach|technique|framework)s?"
                         r"\s+(?:that|which)\b.*\b(?:is|are|was|were))\s+((?:\[\d+\])+)([.!?])$", re.IGNORECASE)
# that name, shown in bold: what the citation says, not a claim to check
NAME_SHOWN = re.compile(r"\s\*\*[^*\n]+\*\*(?=\s*(?:\[\d+\])+[.!?]$)")
# what a part asks about, without the words that only ask ("which work ...", "what ... does it report")
ASKING = frozenset(content_words("which what how why when where who does do did is are was were can much many far "
                                 "work study paper approach method report reports give gives find"))


def question_parts(question: str) -> list[str]:
    return [p.strip(" ,") for p in PART_BREAK.split(question) if content_words(p) - ASKING]


def open_parts(question: str) -> list[str]:
    """The parts an answer must say something about (naming the work answers the "which work" part a
    question opens with; a later "which technique ..." asks a detail)."""
    parts = question_parts(question)
    return parts[1:] if parts and WHICH_WORK.search(parts[0]) else parts


def part_words(part: str, named: list[Hit]) -> set[str]:
    """What the part asks about, without the names of the papers it names (their every sentence holds them)."""
    names = set().union(*(content_words(short_name(h.title)) for h in named)) if named else set()
    return (content_words(part) - ASKING - names) or (content_words(part) - ASKING)


def asked_in_part(part: str, previous: str | None, named: list[Hit], sentences: list[str]) -> set[str]:
    """What the part asks about; a part of one word no source sentence holds ("and by what factors?")
    asks it of the part before."""
    asked = part_words(part, named)
    if previous and len(asked) < 2 and not any(share(asked, s) > 0 for s in sentences):
        return asked | part_words(previous, named)
    return asked


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


def closest_amount(question: str, sources: list[int], hits: list[Hit], taken: set[str],
                   checker: SupportChecker | None) -> tuple[int, str] | None:
    """The source sentence with a number closest in meaning to the question, if close enough, among the
    few closest that the checker finds supported by their own abstract."""
    candidates = [(n, s) for n in sources for s in split_sentences(hits[n - 1].abstract or hits[n - 1].text)
                  if HAS_NUMBER.search(s) and normal(s) not in taken]
    if checker is None or not candidates:
        return None
    closeness = checker.similarities(question, [s for _, s in candidates])
    ranked = sorted(zip(closeness, range(len(candidates))), reverse=True)
    for close, i in ranked[:CANDIDATES_CHECKED]:
        n, sentence = candidates[i]
        if close >= AMOUNT_SIMILARITY and checker.supports(sentence, hits[n - 1].abstract or hits[n - 1].text):
            return n, sentence
    return None


def cited_line(n: int, sentence: str) -> str:
    body = sentence.rstrip()
    end = body[-1] if body[-1:] in ".!?" else "."
    return f"{body.rstrip('.!?')} [{n}]{end}"


def missing_part(part: str) -> str:
    return f'{NOT_IN_SOURCES} "{part.rstrip("?")}".'


def said_already(sentence: str, answer: list[str]) -> bool:
    """The answer holds most of the sentence's words already, and all its numbers."""
    return (any(share(content_words(sentence), strip_markers(s)) >= SAID_SHARE for s in answer)
            and numbers(sentence) <= numbers(" ".join(answer)))


def added_sentences(question: str, sentences: list[str], hits: list[Hit], sources: list[int],
                    named: list[int], checker: SupportChecker | None) -> list[str]:
    """For a question of several parts: a cited source sentence for each part the answer leaves open,
    or, for an amount no source sentence gives, a note that the abstracts do not say."""
    added: list[str] = []
    parts = question_parts(question)
    if len(parts) < 2:
        return added
    source_sentences = [s for n in sources for s in split_sentences(hits[n - 1].abstract or hits[n - 1].text)]
    taken = {normal(s) for s in source_sentences if said_already(s, sentences)}
    for part in open_parts(question):
        previous = parts[parts.index(part) - 1] if parts.index(part) > 0 else None
        asked = asked_in_part(part, previous, [hits[n - 1] for n in named], source_sentences)
        if any(answered(part, asked, strip_markers(s)) for s in sentences + added):
            continue
        found = best_sentence(part, asked, sources, hits, taken, checker)
        if not found and AMOUNT.search(part):
            found = closest_amount(question, sources, hits, taken, checker)
        if found:
            added.append(cited_line(*found))
            taken.add(normal(found[1]))
        elif AMOUNT.search(part):
            added.append(missing_part(part))
    return added


def states_figures(sentence: str, title: str) -> bool:
    """The sentence states a number other than one in the paper's title ("1-bit" of "The Era of 1-bit LLMs")."""
    return bool(numbers(sentence) - numbers(title)) or bool(HAS_NUMBER.search(re.sub(r"\S*\d\S*", "", sentence)))


def result_sentences(question: str, sentences: list[str], hits: list[Hit], per_paper: int,
                     checker: SupportChecker | None) -> list[str]:
    """For each paper the answer cites: its sentences stating a number the answer does not say yet,
    closest to the question first, per_paper at most (a small model paraphrases a paper's results and
    drops their figures), each copied with its citation once the checker accepts it."""
    if per_paper <= 0 or checker is None:
        return []
    asked, added = content_words(question), []
    for n in dict.fromkeys(n for sentence in sentences for n in markers_in(sentence)):
        abstract = hits[n - 1].abstract or hits[n - 1].text
        candidates = [s for s in split_sentences(abstract)
                      if states_figures(s, hits[n - 1].title) and not said_already(s, sentences + added)]
        closeness = checker.similarities(question, candidates) if candidates else []
        ranked = sorted(((close + RESULT_WORDS_WEIGHT * share(asked, s), s) for close, s in zip(closeness, candidates)),
                        reverse=True)
        for sentence in [s for score, s in ranked if score >= RESULT_CLOSENESS][:per_paper]:
            if len(added) == RESULTS_IN_ALL:
                return added  # no support check past the cap
            if checker.supports(sentence, abstract):
                added.append(cited_line(n, sentence))
    return added


def named_paper_sentences(question: str, sentences: list[str], hits: list[Hit], named: list[int],
                          checker: SupportChecker | None) -> list[str]:
    """For each paper the question names that the answer does not cite: its sentence closest to the question."""
    uncited = [n for n in named if not any(n in markers_in(s) for s in sentences)]
    asked = part_words(question, [hits[n - 1] for n in named])
    found = [best_sentence(question, asked, [n], hits, set(), checker, must_answer=False) for n in uncited]
    return [cited_line(*pick) for pick in found if pick]


def names_lost(claim: str, source: str, hits: list[Hit]) -> bool:
    """The claim calls a paper by a name the source sentence does not hold."""
    said, kept = normal(claim), normal(source)
    return any(f" {normal(short_name(h.title))} " in f" {said} " and f" {normal(short_name(h.title))} " not in f" {kept} "
               for h in hits)


def fuller_sentence(sentence: str, hits: list[Hit], checker: SupportChecker | None) -> str:
    """An answer sentence stating numbers gives way to the sentence of its cited source that holds those
    numbers and more, and most of its words ("The suite has 12 tasks" -> "... 12 tasks, written by 30
    authors from 9 labs"), copied verbatim once the checker accepts it;
    not when that would lose the name of the paper the sentence gives."""
    claim = strip_markers(sentence)
    said = numbers(claim)
    for n in (markers_in(sentence) if said else []):
        abstract = hits[n - 1].abstract or hits[n - 1].text
        for source in split_sentences(abstract):
            if (said <= numbers(source) and len(numbers(source)) > len(said)
                    and share(content_words(claim), source) >= FULLER_SHARE and not names_lost(claim, source, hits)
                    and (checker is None or checker.supports(source, abstract))):
                return cited_line(n, source)
    return sentence


def named_at_end(sentence: str, hits: list[Hit]) -> str:
    """ "The work that ... is [1]." -> "The work that ... is **ZipNN** [1]." (the description was checked)."""
    def name(match: re.Match) -> str:
        names = " and ".join(short_name(hits[n - 1].title) for n in markers_in(match.group(2)) if 1 <= n <= len(hits))
        return f"{match.group(1)} **{names}** {match.group(2)}{match.group(3)}" if names else match.group(0)
    return NAME_AT_END.sub(name, sentence.strip())


def said_once(sentences: list[str]) -> list[str]:
    """The sentences without repeats (two drafts' sentences can give way to one source sentence)."""
    kept: dict[str, str] = {}
    for sentence in sentences:
        kept.setdefault(normal(strip_markers(sentence)), sentence)
    return list(kept.values())


def claim_of(sentence: str) -> str | None:
    """What an answer sentence claims, without a per-paper line's lead or the name shown for its citation;
    None for a missing-part note."""
    sentence = NAME_SHOWN.sub("", PAPER_LEAD.sub("", sentence))
    return None if sentence.startswith(NOT_IN_SOURCES) else sentence


def about_several_papers(question: str, named: list[int]) -> bool:
    return len(named) >= 2 or bool(SEVERAL_PAPERS.search(question))


def per_paper_lines(sentences: list[str], hits: list[Hit], names_answer: bool = False) -> str:
    """One line per cited paper, its sentences in answer order, led by its short name unless its first
    sentence names it; a single paper gets its line too when its name is what the question asks."""
    lines: dict[int, list[str]] = {}
    notes = []
    for sentence in sentences:
        cited = markers_in(sentence)
        (lines.setdefault(cited[0], []) if cited else notes).append(sentence)
    if len(lines) < (1 if names_answer else 2):
        return " ".join(sentences)
    rows = [f"- {' '.join(said)}" if name_key(short_name(hits[n - 1].title)) in name_key(said[0])
            else f"- **{short_name(hits[n - 1].title)}**: {' '.join(said)}" for n, said in lines.items()]
    return "\n".join(rows + notes)


def complete_answer(question: str, text: str, citations: list[Citation], hits: list[Hit],
                    checker: SupportChecker | None = None, names_answer: bool = False,
                    results_per_paper: int = 0) -> tuple[str, list[Citation]]:
    """The verified answer with a cited source sentence for each part it leaves open (from the cited
    sources, those the question names and the work it describes), then up to results_per_paper result
    sentences of each cited paper, laid out one line per paper when it cites several (or, names_answer,
    always). Empty when every sentence cited other sources than the one work the question describes."""
    if not text:
        return text, citations
    named, work = named_sources(question, hits), described_work(question, hits)
    several = about_several_papers(question, named)
    sources = list(dict.fromkeys([c.n for c in citations] + named + work))
    sentences = [named_at_end(fuller_sentence(s, hits, checker), hits) for s in said_once(split_sentences(text))
                 if not off_the_work(s, work, several)]
    if not sentences:
        return "", []
    sentences += named_paper_sentences(question, sentences, hits, named, checker)
    sentences += added_sentences(question, sentences, hits, sources, named, checker)
    sentences += result_sentences(question, sentences, hits, results_per_paper, checker)
    quotes = {c.n: c for c in citations}
    for sentence in sentences:
        for n in markers_in(sentence):
            quotes.setdefault(n, Citation(n=n, paper_id=hits[n - 1].paper_id, title=hits[n - 1].title,
                                          quote=strip_markers(sentence), date=hits[n - 1].date))
    text = per_paper_lines(sentences, hits, names_answer) if several or names_answer else " ".join(sentences)
    shown = {n for sentence in sentences for n in markers_in(sentence)}
    return text, [quotes[n] for n in sorted(quotes) if n in shown]


def off_the_work(sentence: str, work: list[int], several: bool) -> bool:
    """A question describing one work that one source clearly holds is about that work: a sentence
    citing only other sources is off it (or pins the description on the wrong paper)."""
    cited = markers_in(sentence)
    return bool(work and not several and cited and work[0] not in cited)


def described_work(question: str, hits: list[Hit]) -> list[int]:
    """For a question opening "which work ...": the one source whose abstract clearly holds its description."""
    parts = question_parts(question)
    if not parts or not WHICH_WORK.search(parts[0]):
        return []
    asked = part_words(parts[0], [])
    shares = sorted(((share(asked, h.abstract or h.text), n) for n, h in enumerate(hits, start=1)), reverse=True)
    best, runner_up = shares[0], (shares[1][0] if len(shares) > 1 else 0.0)
    return [best[1]] if best[0] >= WORK_MATCH and best[0] - runner_up >= WORK_MARGIN else []


def closest_sentences(question: str, asked: set[str], n: int, hits: list[Hit],
                      checker: SupportChecker | None) -> list[tuple[int, str]]:
    """The source's EXTRACTED_PER_PAPER sentences holding most of the question's words, checked, in
    the abstract's order."""
    picks: list[tuple[int, str]] = []
    while len(picks) < EXTRACTED_PER_PAPER:
        found = best_sentence(question, asked, [n], hits, {normal(s) for _, s in picks}, checker, must_answer=False)
        if not found:
            break
        picks.append(found)
    order = split_sentences(hits[n - 1].abstract or hits[n - 1].text)
    return sorted(picks, key=lambda pick: order.index(pick[1]))


def extracted_answer(question: str, hits: list[Hit], checker: SupportChecker | None = None,
                     results_per_paper: int = 0) -> tuple[str, list[Citation]]:
    """An answer from the sources' own sentences, for when nothing of the model's draft was kept: for a
    question naming two or more of the sources, or asking which work fits a description that one source
    clearly holds, each such paper's line with its sentences answering the question, copied with their
    citations and checked. Empty for any other question."""
    named = named_sources(question, hits)
    sources = named if len(named) >= 2 else described_work(question, hits)
    asked = part_words(question, [hits[n - 1] for n in named])
    picks = [pick for n in sources for pick in closest_sentences(question, asked, n, hits, checker)]
    citations = [Citation(n=n, paper_id=hits[n - 1].paper_id, title=hits[n - 1].title, quote=sentence,
                          date=hits[n - 1].date) for n, sentence in picks]
    if not citations:
        return "", []
    text = " ".join(cited_line(c.n, c.quote) for c in citations)
    return complete_answer(question, text, citations, hits, checker, names_answer=True,
                           results_per_paper=results_per_paper)
