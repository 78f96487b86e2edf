"""Completing a verified answer from the sources: question parts, named papers, per-paper lines."""
from __future__ import annotations

from rag.compose import NOT_IN_SOURCES, claim_of, complete_answer, named_sources, open_parts, question_parts
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
    question = "Which work scales diffusion models trained in isolation?"
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
