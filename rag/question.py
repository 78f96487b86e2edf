"""Question analysis: what a question asks for and what it takes for granted, read from its wording."""
from __future__ import annotations

import re

AUXILIARY = r"(is|are|was|were|does|do|did|can|could|has|have|had|will|would|should|may)"
# a question answered by yes or no: "Does X improve Y?"
YES_NO_QUESTION = re.compile(rf"^\W*{AUXILIARY}\s+(.+?)\W*$", re.IGNORECASE | re.DOTALL)
# "Why does X need Y?": takes "X needs Y" for granted
WHY_QUESTION = re.compile(rf"^\W*why\s+{AUXILIARY}\s+(.+?)\W*$", re.IGNORECASE | re.DOTALL)
# "Since X, why ...?", "Given that X, how ...?": takes X for granted
GIVEN_CLAUSE = re.compile(r"^\W*(?:since|given that|because|as)\s+(.+?),\s*(?:why|how|what|which|when|where|who)\b",
                          re.IGNORECASE | re.DOTALL)


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def yes_no_claim(question: str) -> str | None:
    """A yes/no question as the claim it asks about: "Does X improve Y?" -> "X improve Y."."""
    match = YES_NO_QUESTION.match(question.strip())
    return None if match is None else capitalised(match.group(2)) + "."


def presupposition(question: str) -> str | None:
    """What the question takes for granted, as a yes/no question a source can answer: "Why does X need
    Y?" -> "Does X need Y?", "Since X, why ...?" -> "Is it true that X?"; None when it asks plainly."""
    question = question.strip()
    if match := WHY_QUESTION.match(question):
        return f"{capitalised(match.group(1).lower())} {match.group(2)}?"
    if match := GIVEN_CLAUSE.match(question):
        return f"Is it true that {match.group(1)}?"
    return None
