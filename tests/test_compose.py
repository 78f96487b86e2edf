"""Completing a verified answer from the sources: question parts, named papers, per-paper lines."""
from __future__ import annotations

from rag.compose import (NOT_IN_SOURCES, claim_of, complete_answer, described_work, extracted_answer, named_sources,
                          open_parts, question_parts)
from rag.types import Citation, Hit

DIFFUSION = Hit(paper_id="dd", title="Decentralized Diffusion Models", text="", score=1.0, chunk_id="dd:0",
                abstract="We train diffusion models in isolation on partitions of the data. "
                         "A lightweight router combines the experts at inference. "
                         "We finally scale our approach to 24 billion parameters on eight GPU nodes in less than a week.")
H2O = Hit(paper_id="h2o", title="H_2O: Heavy-Hitter Oracle for Efficient Generative Inference", text="", score=0.9,
          chunk_id="h2o:0", abstract="Large language models need a large KV cache. "
                                     "We propose a KV cache eviction policy that dynamically retains a balance of recent and heavy hitter tokens. "
                                     "It improves throughput by up to 29 times.")
SCOPE = Hit(paper_id="scope", title="SCOPE: Optimizing Key-Value Cache Compression", text="", score=0.8,
            chunk_id="scope:0", abstract="Key-value cache is a bottleneck for long outputs. "
                                         "SCOPE separately performs KV cache optimization during the prefill and decoding phases.")


def cited(n: int, hit: Hit) -> Citation:
    return Citation(n=n, paper_id=hit.paper_id, title=hit.title, quote="")


def test_a_two_part_question_has_two_parts_and_the_which_work_part_is_answered_by_the_name():
    question = "Which work trains diffusion models in isolation, and how far did it scale?"
    assert question_parts(question) == ["Which work trains diffusion models in isolation", "how far did it scale"]
    assert open_parts(question) == ["how far did it scale"]


def test_an_open_part_gets_the_cited_source_sentence_that_answers_it_verbatim():
    question = "Which work trains diffusion models in isolation, and how far did it scale?"
    text, citations = complete_answer(question, "Decentralized Diffusion Models trains experts in isolation [1].",
                                      [cited(1, DIFFUSION)], [DIFFUSION, H2O])
    assert text == ("Decentralized Diffusion Models trains experts in isolation [1]. We finally scale our approach "
                    "to 24 billion parameters on eight GPU nodes in less than a week [1].")
    assert [c.n for c in citations] == [1]


def test_a_part_no_source_answers_is_said_to_be_missing_not_guessed():
    question = "Which work trains diffusion models in isolation, and how much energy did training use?"
    text, _ = complete_answer(question, "Decentralized Diffusion Models trains experts in isolation [1].",
                              [cited(1, DIFFUSION)], [DIFFUSION, H2O])
    assert text.endswith(f'{NOT_IN_SOURCES} "how much energy did training use".')
    assert "29 times" not in text  # an uncited source is not a place to look


def test_an_answered_part_gets_nothing_more():
    question = "Which work trains diffusion models in isolation, and how far did it scale?"
    answer = "Decentralized Diffusion Models scales its approach to 24 billion parameters [1]."
    assert complete_answer(question, answer, [cited(1, DIFFUSION)], [DIFFUSION])[0] == answer


def test_papers_named_in_the_question_are_found_by_their_short_name():
    hits = [SCOPE, DIFFUSION, H2O]
    assert named_sources("How do the H2O and SCOPE approaches shrink the KV cache?", hits) == [1, 3]


def test_a_question_about_two_named_papers_gets_one_line_per_paper_each_cited():
    question = "How do the H2O and SCOPE approaches differ in the way they shrink the KV cache?"
    hits = [SCOPE, H2O]
    text, citations = complete_answer(question, "SCOPE optimizes the KV cache separately in prefill and decoding [1].",
                                      [cited(1, SCOPE)], hits)
    lines = text.splitlines()
    assert lines[0] == "- SCOPE optimizes the KV cache separately in prefill and decoding [1]."  # names itself
    assert lines[1].startswith("- **H_2O**: ") and "eviction policy" in lines[1] and lines[1].endswith("[2].")
    assert [claim_of(line) for line in lines] == [lines[0][2:], lines[1][len("- **H_2O**: "):]]
    assert [c.paper_id for c in citations] == ["scope", "h2o"]
    assert "eviction policy" in citations[1].quote


def test_an_empty_answer_stays_empty():
    assert complete_answer("Which work scales diffusion, and how far?", "", [], [DIFFUSION]) == ("", [])


def test_an_answer_to_a_one_paper_question_citing_two_sources_stays_one_paragraph():
    question = "How are diffusion models trained in isolation scaled?"
    answer = "Decentralized Diffusion Models trains experts in isolation [1]. KV caches are large [2]."
    text, _ = complete_answer(question, answer, [cited(1, DIFFUSION), cited(2, H2O)], [DIFFUSION, H2O])
    assert text == answer


def test_an_open_part_that_asks_no_amount_gets_no_note_when_nothing_answers_it():
    question = "Which work trains diffusion models in isolation, and why were they banned in Europe?"
    answer = "Decentralized Diffusion Models trains experts in isolation [1]."
    assert complete_answer(question, answer, [cited(1, DIFFUSION)], [DIFFUSION])[0] == answer


def test_a_sentence_said_twice_is_kept_once():
    answer = "Decentralized Diffusion Models trains experts in isolation [1]. " * 2
    text, _ = complete_answer("Which work trains diffusion models in isolation?", answer.strip(), [cited(1, DIFFUSION)],
                              [DIFFUSION])
    assert text == "Decentralized Diffusion Models trains experts in isolation [1]."


MOE = Hit(paper_id="ds", title="DeepSpeed-MoE: Advancing Mixture-of-Experts Inference", text="", score=0.7, chunk_id="ds:0",
          abstract="Mixture-of-experts models are hard to serve. "
                   "DeepSpeed-MoE serves MoE models up to 4.5x faster and 9x cheaper than quality-equivalent dense models.")


def test_a_part_asking_by_what_factor_is_its_own_part_and_gets_the_sentence_with_the_numbers():
    question = "Which system serves MoE models faster and cheaper than dense models, and by what factors?"
    assert question_parts(question)[1] == "by what factors"
    text, _ = complete_answer(question, "DeepSpeed-MoE serves MoE models faster and cheaper than dense models [1].",
                              [cited(1, MOE)], [MOE])
    assert text.endswith("up to 4.5x faster and 9x cheaper than quality-equivalent dense models [1].")


def test_a_which_part_after_the_first_asks_a_detail_the_answer_must_give():
    question = "When data is repeated, what degradation appears and which regularization technique counters it?"
    assert open_parts(question) == question_parts(question)
    assert open_parts("Which work trains diffusion models, and which router does it use?") == ["which router does it use"]


def test_a_which_work_description_names_the_source_that_clearly_holds_it():
    hits = [H2O, DIFFUSION, SCOPE]
    assert described_work("Which work trains diffusion models in isolation on partitions of the data?", hits) == [2]
    assert described_work("Which work folds proteins with graph networks?", hits) == []  # fits none clearly
    assert described_work("How do diffusion models train in isolation?", hits) == []  # not a which-work question
    assert described_work("What did the work on diffusion models in isolation find?", hits) == []  # nor this


def test_with_no_draft_left_a_which_work_question_is_answered_from_the_described_source():
    question = "Which work trains diffusion models in isolation on partitions of the data, and how far did it scale?"
    text, citations = extracted_answer(question, [H2O, DIFFUSION])
    assert text.startswith("- **Decentralized Diffusion Models**: We train diffusion models in isolation")
    assert "24 billion parameters" in text and text.count("[2]") == 2 and "[1]" not in text
    assert [c.paper_id for c in citations] == ["dd"]


def test_with_no_draft_left_two_named_papers_get_a_line_each_from_their_own_abstract():
    question = "How do the H2O and SCOPE approaches differ in the way they shrink the KV cache?"
    lines = extracted_answer(question, [SCOPE, DIFFUSION, H2O])[0].splitlines()
    assert len(lines) == 2 and lines[0].endswith("[1].") and lines[1].endswith("[3].")
    assert "prefill and decoding" in lines[0] and "eviction policy" in lines[1]


def test_nothing_is_extracted_for_a_question_that_names_no_work():
    assert extracted_answer("How much memory do KV caches use?", [H2O, SCOPE]) == ("", [])


def test_sentences_citing_other_sources_than_the_described_work_are_dropped():
    question = "Which work trains diffusion models in isolation on partitions of the data, and how far did it scale?"
    answer = "Decentralized Diffusion Models trains experts in isolation [2]. It also retains heavy hitter tokens [1]."
    text, citations = complete_answer(question, answer, [cited(1, H2O), cited(2, DIFFUSION)], [H2O, DIFFUSION])
    assert text.startswith("Decentralized Diffusion Models trains experts in isolation [2].") and "[1]" not in text
    assert [c.n for c in citations] == [2]


def test_a_sentence_pinning_the_described_work_on_another_source_gives_way_to_that_source():
    question = "Which work trains diffusion models in isolation on partitions of the data, and how far did it scale?"
    text, citations = complete_answer(question, "H_2O trains diffusion models in isolation on partitions of the data [1].",
                                      [cited(1, H2O)], [H2O, DIFFUSION])
    assert text == ""  # the caller then answers from the described source


def test_a_citation_ending_a_which_work_sentence_becomes_the_papers_name():
    question = "Which work trains diffusion models in isolation?"
    text, _ = complete_answer(question, "The work that trains diffusion models in isolation is [1].",
                              [cited(1, DIFFUSION)], [DIFFUSION])
    assert text == "The work that trains diffusion models in isolation is **Decentralized Diffusion Models** [1]."
    assert claim_of(text) == "The work that trains diffusion models in isolation is [1]."  # the checked claim


def test_an_amount_part_no_sentence_answers_by_its_words_takes_the_closest_sentence_with_a_number():
    from rag.support import SupportChecker
    densing = Hit(paper_id="dl", title="Densing Law of LLMs", text="", score=1.0, chunk_id="dl:0",
                  abstract="We define the capacity density of a model as its effective parameter size over its actual size. "
                           "Capacity density gives one frame for model effectiveness and efficiency. "
                           "The capacity density of LLMs doubles approximately every three months.")
    question = "Which work measures LLM quality as effective over actual parameter size, and how fast does it grow?"
    text, _ = complete_answer(question, "Densing Law of LLMs defines capacity density [1].", [cited(1, densing)],
                              [densing], SupportChecker())
    assert text.endswith("The capacity density of LLMs doubles approximately every three months [1].")
    assert NOT_IN_SOURCES not in text


def test_an_answer_sentence_with_numbers_gives_way_to_the_source_sentence_saying_them_in_full():
    bench = Hit(paper_id="bb", title="Beyond the Imitation Game", text="", score=1.0, chunk_id="bb:0",
                abstract="Language models improve with scale. "
                         "BIG-bench currently consists of 204 tasks, contributed by 442 authors across 132 institutions.")
    question = "Which collaborative benchmark was assembled by hundreds of authors, and how many tasks does it contain?"
    text, _ = complete_answer(question, "The benchmark consists of 204 tasks [1].", [cited(1, bench)], [bench])
    assert text == "BIG-bench currently consists of 204 tasks, contributed by 442 authors across 132 institutions [1]."
    named = "Beyond the Imitation Game consists of 204 tasks [1]."  # the name the source sentence lacks stays
    assert complete_answer(question, named, [cited(1, bench)], [bench])[0].startswith(named)


def test_each_cited_paper_adds_its_result_sentences_closest_to_the_question_that_the_answer_lacks():
    from rag.support import SupportChecker
    bitnet = Hit(paper_id="bn", title="The Era of 1-bit LLMs", text="", score=1.0, chunk_id="bn:0",
                 abstract="Recent research is paving the way for a new era of 1-bit LLMs. "
                          "It matches the full-precision Transformer LLM with the same model size and training tokens. "
                          "At 3B parameters it is 2.71 times faster and uses 3.55 times less GPU memory than LLaMA. "
                          "The code was released in 2024 under 2 licences.")
    question = "Which work trains LLMs with ternary weights?"
    answer = "The Era of 1-bit LLMs trains LLMs with ternary weights [1]."
    text, citations = complete_answer(question, answer, [cited(1, bitnet)], [bitnet, DIFFUSION], SupportChecker(),
                                      results_per_paper=1)
    assert text == answer + " At 3B parameters it is 2.71 times faster and uses 3.55 times less GPU memory than LLaMA [1]."
    assert [c.n for c in citations] == [1]
    assert complete_answer(question, answer, [cited(1, bitnet)], [bitnet], SupportChecker())[0] == answer  # 0: none added
    said = answer + " It is 2.71 times faster and uses 3.55 times less GPU memory than LLaMA at 3B parameters [1]."
    more = complete_answer(question, said, [cited(1, bitnet)], [bitnet], SupportChecker(), results_per_paper=3)[0]
    assert more.count("2.71") == 1  # never a sentence the answer says already
    assert "new era" not in more  # its only number is the title's


def test_result_sentences_go_on_the_line_of_their_paper_and_only_for_cited_papers():
    from rag.support import SupportChecker
    h2o = Hit(paper_id="h2o", title=H2O.title, text="", score=0.9, chunk_id="h2o:0",
              abstract=H2O.abstract.replace("It improves throughput", "With the KV cache policy H2O improves throughput"))
    question = "How do H2O and SCOPE manage the KV cache?"
    answer = "H2O keeps recent and heavy hitter tokens in the KV cache [1]. SCOPE optimizes prefill and decoding separately [2]."
    text, _ = complete_answer(question, answer, [cited(1, h2o), cited(2, SCOPE)], [h2o, SCOPE, DIFFUSION], SupportChecker(),
                              results_per_paper=2)
    lines = text.splitlines()
    assert lines[0].startswith("- H2O keeps") and lines[0].endswith("H2O improves throughput by up to 29 times [1].")
    assert "[3]" not in text and len(lines) == 2
