"""Verification of what the model wrote: citations used as nouns, and yes/no verdicts the checker must
reach too (queued-reply fake LLM over a small real index, real support checker)."""
from __future__ import annotations

import pytest

from rag.answer import ask
from rag.cite import (VerifiedSentence, cite_the_only_source, draft_source, most_cited_source, name_cited_papers,
                      name_not_echoing_the_question, pronoun_named, question_claim, verified_sentences)
from rag.evaluate import broken_sentences
from rag.prompt import REFUSAL
from rag.support import SupportChecker
from rag.types import Hit

from .test_answer import fake_llm, index  # noqa: F401  (fixtures)

HITS = [Hit(paper_id="zip", title="ZipNN: Lossless Compression for AI Models", text="", score=1.0, chunk_id="zip:0"),
        Hit(paper_id="monkeys", title="Large Language Monkeys", text="", score=1.0, chunk_id="monkeys:0")]


@pytest.mark.parametrize("written, shown", [
    ("The algorithm in [1] matches REDQ.", "The algorithm in ZipNN matches REDQ [1]."),
    ("[2] shows that sampling helps.", "Large Language Monkeys shows that sampling helps [2]."),
    ("As shown in [1], compression works [2].", "As shown in ZipNN, compression works [2] [1]."),
    ("Compression saves 33% of space [1].", "Compression saves 33% of space [1]."),
    ("It improves accuracy [1] and [2].", "It improves accuracy [1] and [2]."),
    ("ZipNN [1] compresses models losslessly.", "ZipNN compresses models losslessly [1]."),  # named already
    ("[1] ZipNN: Lossless Compression reports savings.", "ZipNN: Lossless Compression reports savings [1]."),
    ("It saves 33% over zstd, which is [1].", "It saves 33% over zstd [1]."),
    ("The work that compresses checkpoints losslessly is [1].", "The work that compresses checkpoints losslessly is ZipNN [1]."),
    ("The saving is 33% [1].", "The saving is 33% [1]."),
])
def test_a_citation_used_as_a_noun_becomes_the_papers_short_name(written, shown):
    assert name_cited_papers(written, HITS) == shown


def test_a_reply_from_one_source_cites_it_in_every_sentence_whatever_number_the_model_wrote():
    assert cite_the_only_source("The work [2] compresses models. It saves 33% [1], [3]. It is lossless.") == \
        "The work [1] compresses models. It saves 33% [1]. It is lossless [1]."
    assert cite_the_only_source("It saves 33% [1].", number=3) == "It saves 33% [3]."
    assert cite_the_only_source(REFUSAL) == REFUSAL


def test_the_most_cited_source_of_a_reply():
    assert most_cited_source("A [2]. B [3]. C [2], [3]. D [9].", 3) == 2
    assert most_cited_source("A [3]. B [2].", 3) == 2 and most_cited_source("No marker. Out of range [9].", 3) == 1


def test_the_source_a_draft_is_about_is_the_one_it_names_else_the_one_it_cites_most():
    hits = [Hit(paper_id="p", title="On Pruning State-Space LLMs", text="", score=1.0, chunk_id="p:0"),
            Hit(paper_id="m", title="Building Long-Context Retrieval Models with LoCo and M2-BERT", text="", score=1.0, chunk_id="m:0"),
            *HITS]
    assert draft_source("The M2-BERT encoder beats Transformers by 47% [4].", hits) == 2  # named, miscited
    assert draft_source("It saves 33% [3], like ZipNN-style codecs [1]. It is lossless [3].", hits) == 3  # "ZipNN-style" names nothing
    assert draft_source("Pruning LLMs saves memory [4]. ZipNN and M2-BERT differ [4].", hits) == 4  # two named: cited most
    assert draft_source("No marker, no name.", hits) == 1
    assert draft_source("Long-Context models and State-Space LLMs differ [3].", hits) == 3  # no names said


def test_it_opening_a_sentence_whose_claim_before_went_becomes_the_papers_short_name():
    def named(text, sources):
        return pronoun_named(VerifiedSentence(text, sources, {}), HITS).text
    assert named("It saves 33% of the model size.", [1]) == "ZipNN saves 33% of the model size."
    assert named("Its savings reach 50%.", [1]) == "ZipNN's savings reach 50%."
    assert named("It's lossless.", [1]) == "It's lossless."
    assert named("It samples more.", [2]) == "It samples more."  # a title with no short name
    assert named("It compares both.", [1, 2]) == "It compares both."


def test_a_kept_it_sentence_after_a_rejected_claim_names_the_paper():
    abstract = "We present ZipNN, a lossless compression for AI models. It typically saves 33% of the model size."
    hits = [Hit(paper_id="zip", title=HITS[0].title, text=abstract, abstract=abstract, score=1.0, chunk_id="zip:0")]
    kept = verified_sentences("ZipNN was trained on 4,096 TPUs for a year [1]. It typically saves 33% of the model size [1].",
                              hits, SupportChecker())
    assert [v.text for v in kept] == ["ZipNN typically saves 33% of the model size."]


def test_broken_sentences_are_counted():
    assert broken_sentences("The algorithm in matches REDQ [1]. It saves memory [1].") == 1
    assert broken_sentences("As shown in , it works. Sampling helps [2].") == 1
    assert broken_sentences("The algorithm in ZipNN matches REDQ [1]. We rely on the data [2].") == 0
    assert broken_sentences("The work that compresses checkpoints losslessly is [1].") == 1
    assert broken_sentences("ZipNN ZipNN compresses checkpoints [1].") == 1
    assert broken_sentences("The work that compresses checkpoints losslessly is ZipNN [1]. That is all it is.") == 0


def test_a_yes_no_question_becomes_its_claim():
    assert question_claim("Does quantization reduce memory?") == "Quantization reduce memory."
    assert question_claim("What does quantization reduce?") is None


def test_a_citation_as_subject_reaches_the_user_as_a_name(index, fake_llm):
    fake_llm(["The method in [1] reduces the memory of long-context inference by 8 times."])
    answer = ask("How much memory does key-value cache quantization save?", k=2, settings=index)
    assert not answer.refused
    assert answer.text.startswith("The method in Compressing the KV Cache reduces")
    assert broken_sentences(answer.text) == 0


def test_a_verified_yes_keeps_its_verdict(index, fake_llm):
    fake_llm(["Yes, quantizing the key-value cache reduces the memory of long-context inference by 8 times [1]."])
    answer = ask("Does quantizing the key-value cache reduce the memory of long-context inference?", k=2, settings=index)
    assert not answer.refused and answer.text.startswith("Yes, ")


def test_a_yes_that_the_abstract_contradicts_is_never_shown(index, fake_llm):
    wrong = "Yes, quantizing the key-value cache increases the memory of long-context inference [1]."
    fake_llm([wrong, wrong])  # the draft, then the retry with the best source only
    answer = ask("Does quantizing the key-value cache increase the memory of long-context inference?", k=2, settings=index)
    assert answer.refused or not answer.text.lower().startswith("yes")
    assert "increases the memory" not in answer.text


def test_a_retried_reply_without_markers_cites_the_only_source_it_saw(index, fake_llm):
    fake_llm(["The Eiffel Tower was completed in 1889 [1].",
              "Routing each token to two experts keeps the compute per token constant."])
    answer = ask("How does the mixture-of-experts model keep the compute per token constant?", k=2, settings=index)
    assert not answer.refused and [c.paper_id for c in answer.citations] == ["moe"]
    assert answer.text.endswith("constant [1].")


NOLA = [Hit(paper_id="nola", title="NOLA: Compressing LoRA using Linear Combination of Random Basis", text="",
            score=1.0, chunk_id="nola:0"),
        Hit(paper_id="lora", title="LoRA: Low-Rank Adaptation of Large Language Models", text="", score=1.0, chunk_id="lora:0")]
BEYOND_LORA = "Which fine-tuning method gets around the rank-one lower bound on LoRA's parameter count?"


@pytest.mark.parametrize("question, written, shown", [
    (BEYOND_LORA, "The method that gets around it is LoRA [1].", "The method that gets around it is NOLA [1]."),
    (BEYOND_LORA, "The method that gets around it is LoRA [2].", "The method that gets around it is LoRA [2]."),  # LoRA's own
    ("How does NOLA get around LoRA's bound?", "The method is LoRA [1].", "The method is LoRA [1]."),  # not a which-question
    ("Which method makes fine-tuning cheap?", "The method is cheap [1].", "The method is cheap [1]."),  # not a name
])
def test_a_which_question_answered_with_a_name_it_uses_itself_gets_the_cited_papers_name(question, written, shown):
    assert name_not_echoing_the_question(question, written, NOLA) == shown
