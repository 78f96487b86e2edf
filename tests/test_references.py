"""Links for arXiv ids and DOIs, and the answer as Markdown with its numbered references."""
from __future__ import annotations

import pytest

from rag import Answer, Citation, answer_markdown, paper_link
from rag.prompt import REFUSAL


@pytest.mark.parametrize("paper_id, link", [
    ("2401.12345", "https://arxiv.org/abs/2401.12345"),
    ("2401.12345v2", "https://arxiv.org/abs/2401.12345v2"),
    ("arXiv:0706.0001", "https://arxiv.org/abs/0706.0001"),
    ("cs/0112017", "https://arxiv.org/abs/cs/0112017"),
    ("math.GT/0309136", "https://arxiv.org/abs/math.GT/0309136"),
    ("10.1038/nature14539", "https://doi.org/10.1038/nature14539"),
    ("doi:10.1145/3292500.3330701", "https://doi.org/10.1145/3292500.3330701"),
    ("85852ee074039354", None),   # the bundled corpus's title hashes link nowhere
    ("2401.123", None),
    ("moe", None),
])
def test_paper_links(paper_id, link):
    assert paper_link(paper_id) == link


def test_markdown_has_the_answer_then_a_numbered_reference_list():
    answer = Answer(text="Weights are ternary [1]. Dropout hurts [2].", refused=False, citations=[
        Citation(1, "2401.12345", "Ternary Weights", "Weights take the values -1, 0 and 1."),
        Citation(2, "local-7", "A Local Paper", "Dropout hurts.")])
    assert answer_markdown(answer) == (
        "Weights are ternary [1]. Dropout hurts [2].\n\nReferences:\n\n"
        "- [1] Ternary Weights (https://arxiv.org/abs/2401.12345)\n"
        "- [2] A Local Paper (local-7)")


def test_a_refusal_has_no_reference_list():
    assert answer_markdown(Answer(text=REFUSAL, refused=True)) == REFUSAL
