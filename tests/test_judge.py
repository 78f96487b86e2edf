"""The support checker with a judge: the rules it applies before any model call (a fake judge that
records its prompts), and the answer model itself as the judge (the packaged default GGUF)."""
from __future__ import annotations

import pytest

from rag.cite import checked_verdict, source_text, verify_answer
from rag.config import Settings
from rag.judge import JudgeCall, JudgeLog, answer_context, states_messages
from rag.prompt import answer_messages
from rag.support import SupportChecker, get_checker, names_in, unit_moved, unknown_names
from rag.types import Citation, Hit

S1K = ("We curate a small dataset s1K of 1,000 questions paired with reasoning traces. After supervised "
       "fine-tuning the Qwen2.5-32B-Instruct language model on s1K, our model exceeds o1-preview on competition "
       "math questions by up to 27% (MATH and AIME24).")
ZERO = Hit(paper_id="zero", title="ZeroI2V: Zero-Cost Adaptation of Pre-trained Transformers from Image to Video",
           text="", score=1.0, chunk_id="zero:0", abstract=(
               "Adapting image models to the video domain has emerged as an efficient paradigm for video recognition. "
               "However, existing adaptation strategies inevitably introduce extra computational costs to deal with "
               "the domain gap and temporal modeling in videos. In this paper, we present a new adaptation paradigm "
               "(ZeroI2V) to transfer the image transformers to video recognition tasks (i.e., introduce zero extra "
               "cost to the original models during inference). All newly added adapters are merged with the original "
               "modules through structural reparameterization after training, enabling zero extra cost during inference."))


class RecordingJudge:
    """Answers every prompt with one logit and keeps the prompts."""

    def __init__(self, logit: float):
        self.logit, self.prompts, self.log = logit, [], JudgeLog()

    def score(self, messages) -> float:
        self.prompts.append(messages)
        self.log.calls.append(JudgeCall(0, 0))
        return self.logit


@pytest.fixture(scope="module")
def embedder():
    return SupportChecker().embedder


def judged_checker(embedder, logit: float) -> SupportChecker:
    return SupportChecker(embedder=embedder, judge=RecordingJudge(logit))


def test_a_number_bound_to_another_quantity_is_rejected_without_asking_the_judge(embedder):
    checker = judged_checker(embedder, logit=5.0)
    moved = "The fine-tuning of Qwen2.5-32B-Instruct on s1K required 1,000 GPUs and 27 minutes of training."
    result = checker.check_many(moved, [S1K], figures_copied=True)[0]
    assert (result.score, result.reason) == (0.0, "unit") and not checker.judge.prompts
    assert unit_moved("It exceeds o1-preview by 27 minutes.", S1K)
    assert not unit_moved("It beats o1-preview by up to 27% on MATH.", S1K)
    assert not unit_moved("The dataset has 1,000 carefully chosen questions.", "a set of 1,000 chosen questions")


def test_a_name_the_source_never_mentions_is_rejected(embedder):
    checker = judged_checker(embedder, logit=5.0)
    source = ("Learning Code Preference via Synthetic Evolution.\nLarge language models (LLMs) write code. We train "
              "code LLMs to predict preferences for code, from synthetic code evolution.")
    invented = "Learning Code Preference via Synthetic Evolution fine-tunes a code LLM to detect flaws in Ethereum contracts."
    result = checker.check_many(invented, [source], figures_copied=True)[0]
    assert (result.score, result.reason) == (0.0, "name")
    assert unknown_names(invented, source) == ["Ethereum"]
    assert names_in("Yes, ZeroI2V adds cost. However, GPT-4 and Llama 3 do not.") == ["ZeroI2V", "GPT-4", "Llama"]
    faithful = "Learning Code Preference via Synthetic Evolution trains code LLMs to predict preferences for code."
    assert checker.check_many(faithful, [source], figures_copied=True)[0].reason == "judge"


def test_a_verbatim_source_sentence_needs_no_model_call(embedder):
    checker = judged_checker(embedder, logit=-5.0)
    sentence = "All newly added adapters are merged with the original modules through structural reparameterization after training, enabling zero extra cost during inference."
    result = checker.check(sentence, source_text(ZERO))
    assert (result.score, result.reason) == (1.0, "copy") and checker.judge.prompts == []
    assert checker.supports(sentence, source_text(ZERO))


def test_the_judge_decides_the_rest_at_its_offset(embedder):
    sentence = "ZeroI2V merges its adapters into the original modules so inference costs nothing extra."
    assert judged_checker(embedder, logit=1.0).supports(sentence, source_text(ZERO))
    assert not judged_checker(embedder, logit=-0.5).supports(sentence, source_text(ZERO))
    stricter = SupportChecker(embedder=embedder, judge=RecordingJudge(1.0), judge_offset=2.0)
    assert not stricter.supports(sentence, source_text(ZERO))


def test_the_judge_reads_the_closest_source_sentences_after_the_answer_prompt(embedder):
    checker = judged_checker(embedder, logit=3.0)
    context = answer_context(answer_messages("Does ZeroI2V add cost?", [ZERO]), "No, it adds no cost [1].")
    checker.check_many("ZeroI2V adds no cost at inference.", [source_text(ZERO)], context=context)
    prompt = checker.judge.prompts[-1]
    assert prompt[:len(context)] == context  # the cached answer prompt and reply come first
    assert "zero extra cost during inference" in prompt[-1].content and "Statement: ZeroI2V adds no cost" in prompt[-1].content


def test_a_reversed_verdict_loses_its_yes(embedder):
    question = "Does ZeroI2V's image-to-video adaptation add extra compute at inference time?"
    text = "Yes, ZeroI2V keeps the original model's inference cost [1]."
    citations = [Citation(n=1, paper_id="zero", title=ZERO.title, quote="")]
    assert checked_verdict(question, text, citations, [ZERO], judged_checker(embedder, -4.0)).startswith("ZeroI2V keeps")
    assert checked_verdict(question, text, citations, [ZERO], judged_checker(embedder, 4.0)) == text
    assert checked_verdict(question, text, citations, [ZERO], judged_checker(embedder, 0.3)).startswith("ZeroI2V keeps")


def test_a_backend_that_cannot_judge_gets_the_feature_checker():
    checker = get_checker(Settings(), model=object())
    assert checker.judge is None and checker.threshold < 0.5


@pytest.mark.integration
class TestTheAnswerModelAsJudge:
    @pytest.fixture(scope="class")
    @classmethod
    def model_checker(cls):
        from rag.llm import get_llm
        settings = Settings(llm="local")
        model = get_llm(settings)
        return model, get_checker(settings, model)

    def test_it_reads_only_the_new_tokens_after_the_answer_prompt(self, model_checker):
        from rag.generate import generate
        model, checker = model_checker
        question = "Does ZeroI2V's image-to-video adaptation add extra compute at inference time?"
        messages = answer_messages(question, [ZERO])
        reply = generate(model, messages)
        checker.judge.log.calls.clear()
        faithful = "ZeroI2V introduces zero extra cost to the original models during inference time."
        result = checker.check_many(faithful, [source_text(ZERO)], figures_copied=True,
                                    context=answer_context(messages, reply))[0]
        assert result.reason == "judge" and result.score >= checker.threshold
        prompt = model.count_tokens("\n".join(m.content for m in messages))
        call, = checker.judge.log.calls  # the answer prompt and reply come from the cache: only the check is read
        assert call.prompt_tokens - call.new_tokens >= prompt and call.new_tokens < 150, call

    def test_a_fresh_check_runs_the_same_judge(self, model_checker):
        _, checker = model_checker
        faithful = "ZeroI2V introduces zero extra cost to the original models during inference time."
        checker._judged.clear()  # no judgement kept from the test before
        before = len(checker.judge.log.calls)
        assert checker.supports(faithful, source_text(ZERO)) and len(checker.judge.log.calls) == before + 1

    # Known failures of the 1.5B judge, measured: the passage's "existing adaptation strategies inevitably
    # introduce extra computational costs" leads it to accept the reversed claim (logit 3.8 against the
    # offset 3.0) and to answer the question "Yes" (4.2). See eval/README.md.
    @pytest.mark.xfail(strict=True, reason="the 1.5B judge accepts the reversed ZeroI2V claim (eval/README.md)")
    def test_the_reversed_claim_is_rejected(self, model_checker):
        _, checker = model_checker
        assert not checker.supports("ZeroI2V's adaptation adds extra compute at inference time.", source_text(ZERO))

    @pytest.mark.xfail(strict=True, reason="the 1.5B judge answers the ZeroI2V question Yes (eval/README.md)")
    def test_the_reversed_yes_loses_its_verdict(self, model_checker):
        _, checker = model_checker
        question = "Does ZeroI2V's image-to-video adaptation add extra compute at inference time?"
        text = "Yes, ZeroI2V's image-to-video adaptation adds extra compute at inference time [1]."
        verified, _ = verify_answer(text, [ZERO], checker)
        assert not verified.startswith("Yes")
        assert not checked_verdict(question, "Yes, ZeroI2V merges its adapters [1].",
                                   [Citation(n=1, paper_id="zero", title=ZERO.title, quote="")], [ZERO], checker).startswith("Yes")
