"""Answer-type check: a question that asks for a quantity is answered only by a sentence that gives
one. A supported sentence can still miss the question ("pre-trained on 130 billion parameters" for
"how many tokens"), and the support checker cannot see that; this check can."""
from __future__ import annotations

import re

from .cite import strip_markers
from .support import numbers, stem

# only questions that open with it: in "Which method ..., and by how much?" naming the method still answers
QUANTITY = re.compile(r"^\s*(?:by\s+)?(how many|how much|what percentage|what fraction)\b", re.I)
TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+")
UNIT_WINDOW = 4  # words after a number in which its unit is looked for


def asked_units(question: str) -> list[str]:
    """The stemmed head word of each "how many X" in the question: "how many GPUs" -> "gpu"."""
    return [stem(match.group(1).lower()) for match in re.finditer(r"\bhow many ([a-z][a-z0-9-]*)", question, re.I)]


def new_numbers(question: str, text: str) -> set[str]:
    return numbers(text) - numbers(question)


def counts_unit(text: str, fresh: set[str], unit: str) -> bool:
    """Some new number of the text is followed, within a few words, by the unit."""
    tokens = TOKEN.findall(text)
    for i, token in enumerate(tokens):
        if token[0].isdigit() and numbers(token) & fresh:
            if any(stem(word.lower()) == unit for word in tokens[i + 1:i + 1 + UNIT_WINDOW]):
                return True
    return False


def gives_asked_quantity(question: str, text: str) -> bool:
    """False when the question asks for a quantity and the text states none that the question
    does not already contain, or none of the unit a "how many" asks for."""
    if not QUANTITY.search(question):
        return True
    text = strip_markers(text)
    fresh = new_numbers(question, text)
    return bool(fresh) and all(counts_unit(text, fresh, unit) for unit in asked_units(question))
