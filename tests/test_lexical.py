"""The lexical (FTS5 BM25) index: upsert, delete, year filter, ranking, unsafe queries, word counts and
rare-word matching, and its sync with Chroma."""
from __future__ import annotations

import json
import sqlite3
import sys

import numpy as np
import pytest

from rag.ingest import ingest
from rag.lexical import (SCHEMA, LexicalIndex, lexical_path, matched_terms, open_lexical, sync_lexical, tokenize,
                         top_summed)
from rag.retrieve import HybridRetriever
from rag.store import Store

COMMON = "Large language models improve performance on reasoning benchmarks with more training data"


@pytest.fixture
def lexical(tmp_path):
    index = LexicalIndex(tmp_path / "lexical.sqlite3")
    yield index
    index.close()


def add(index, chunk_id, text, year=None):
    index.add([chunk_id], [text], [{"paper_id": chunk_id.split(":")[0], "year": year}])


def test_search_ranks_matching_chunks_with_positive_scores(lexical):
    add(lexical, "a:0", "Sparse attention for long documents")
    add(lexical, "b:0", "Attention heads in vision transformers attention maps")
    add(lexical, "c:0", "Protein folding with diffusion")
    found = lexical.search("attention in long documents", n=10)
    assert [chunk_id for chunk_id, _ in found] == ["a:0", "b:0"]
    assert all(score > 0 for _, score in found) and found[0][1] > found[1][1]
    assert lexical.count() == 3 and lexical.ids() == {"a:0", "b:0", "c:0"}


def test_add_replaces_a_chunk_with_the_same_id_and_delete_removes_it(lexical):
    add(lexical, "a:0", "Sparse attention for long documents")
    add(lexical, "a:0", "Quantized key-value cache")
    assert lexical.count() == 1
    assert lexical.search("sparse attention", n=5) == []
    assert [i for i, _ in lexical.search("key-value cache", n=5)] == ["a:0"]
    lexical.delete(["a:0", "never-added:0"])
    assert lexical.count() == 0 and lexical.search("cache", n=5) == []


def test_year_filter_keeps_only_that_year(lexical):
    add(lexical, "old:0", "Mixture of experts routing", year=2023)
    add(lexical, "new:0", "Mixture of experts routing at scale", year=2024)
    add(lexical, "undated:0", "Mixture of experts")
    assert [i for i, _ in lexical.search("mixture of experts", n=5, year=2023)] == ["old:0"]
    assert len(lexical.search("mixture of experts", n=5)) == 3


def test_a_rare_term_outranks_chunks_full_of_common_ones(lexical):
    for i in range(50):
        add(lexical, f"common{i}:0", f"{COMMON} {COMMON} number {i}")
    add(lexical, "bitnet:0", "Every weight of the language model is ternary")
    found = lexical.search("How can large language models be trained with ternary weights?", n=5)
    assert found[0][0] == "bitnet:0"


@pytest.mark.parametrize("query", ['"C++" AND (x', 'NEAR(a b', "title:foo*", "^ - + : ( ) *", "the of and", ""])
def test_query_text_is_never_read_as_fts5_syntax(lexical, query):
    add(lexical, "cpp:0", "Compiling C++ templates faster")
    assert [chunk_id for chunk_id, _ in lexical.search(query, n=5)] in ([], ["cpp:0"])
    assert lexical.scores(query, ["cpp:0"]).keys() <= {"cpp:0"}


def test_scores_of_given_chunks_equal_their_search_scores(lexical):
    add(lexical, "a:0", "Sparse attention for long documents")
    add(lexical, "b:0", "Attention heads in vision transformers")
    add(lexical, "c:0", "Protein folding with diffusion")
    searched = dict(lexical.search("sparse attention", n=10))
    assert lexical.scores("sparse attention", ["a:0", "b:0", "c:0"]) == pytest.approx(searched)
    assert lexical.scores("sparse attention", []) == {}


def fts5_scores(index, query):
    """FTS5's own bm25() over every chunk holding any query word: what search() computed before."""
    expression = " OR ".join(f'"{t}"' for t in tokenize(query))
    return dict(index.db.execute("SELECT chunk_id, -bm25(lexical) FROM lexical WHERE lexical MATCH ?", (expression,)))


def word_counts(index):
    """(chunks per word, chunks, tokens) as kept, and as counted afresh from FTS5's vocabulary."""
    kept = (dict(index.db.execute("SELECT term, chunks FROM term_chunks")),
            *index.db.execute("SELECT chunks, tokens FROM index_totals").fetchone())
    index.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.check_words USING fts5vocab(main, lexical, 'row')")
    counted = (dict(index.db.execute("SELECT term, doc FROM temp.check_words")),
               index.db.execute("SELECT count(*) FROM lexical").fetchone()[0],
               index.db.execute("SELECT coalesce(sum(cnt), 0) FROM temp.check_words").fetchone()[0])
    return kept, counted


def test_scores_are_fts5_bm25_with_every_query_word_also_after_replace_and_delete(lexical):
    add(lexical, "a:0", "Sparse attention attention for long documents and long contexts")
    add(lexical, "b:0", "Attention heads in vision transformers")
    add(lexical, "c:0", "Protein folding with diffusion on long proteins")
    add(lexical, "d:0", "Long attention spans")
    query = "long sparse attention for long documents"  # "long" twice counts twice, as in FTS5
    assert lexical.scores(query, ["a:0", "b:0", "c:0", "d:0"]) == pytest.approx(fts5_scores(lexical, query))
    add(lexical, "b:0", "Sparse mixture of experts")
    lexical.delete(["d:0"])
    expected = fts5_scores(lexical, query)
    assert dict(lexical.search(query, n=10)) == pytest.approx(expected) and len(expected) == 3


def test_word_counts_stay_in_step_with_fts5_through_add_replace_delete_and_clear(lexical):
    add(lexical, "a:0", "Sparse attention for long documents, long contexts")
    add(lexical, "b:0", "Attention heads in vision transformers")
    add(lexical, "a:0", "Quantized key-value cache")
    lexical.delete(["b:0", "never-added:0"])
    kept, counted = word_counts(lexical)
    assert kept == counted and kept[1:] == (1, 3)
    lexical.clear()
    assert word_counts(lexical) == (({}, 0, 0), ({}, 0, 0))
    assert lexical.count() == 0


def test_an_index_written_without_word_counts_gets_them_on_open(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(SCHEMA)
    db.execute("INSERT INTO lexical(rowid, tokens, chunk_id) VALUES (1, 'ternary weights ternary', 'bitnet:0'), "
               "(2, 'language models', 'lm:0')")
    db.commit()
    db.close()
    index = LexicalIndex(path)
    kept, counted = word_counts(index)
    assert kept == counted and index.count() == 2
    assert [i for i, _ in index.search("ternary language", n=2)] == ["bitnet:0", "lm:0"]
    index.close()


def test_matched_words_are_the_rarest_within_the_budget_and_never_none():
    held = {"language": 900, "models": 800, "ternary": 3, "weights": 40}
    assert matched_terms(held, budget=100) == ["ternary", "weights"]
    assert matched_terms(held, budget=1) == ["ternary"]
    assert matched_terms(held, budget=10**6) == ["ternary", "weights", "models", "language"]


def test_top_summed_adds_up_a_key_listed_under_several_words_and_keeps_the_lowest_keys_of_a_tie():
    keys = np.array([9, 4, 7, 4, 2, 5], dtype=np.int64)
    weights = np.array([1.0, 1.0, 1.0, 2.0, 1.0, 1.0])
    assert top_summed(keys, weights, 1) == [4]
    assert sorted(top_summed(keys, weights, 3)) == [2, 4, 5]
    assert sorted(top_summed(keys, weights, 10)) == [2, 4, 5, 7, 9]
    assert top_summed(np.zeros(0, dtype=np.int64), np.zeros(0), 3) == []


def test_a_search_matching_only_the_rare_word_keeps_the_rare_hit_first_and_exact_scores(tmp_path):
    index = LexicalIndex(tmp_path / "lexical.sqlite3", match_budget=5)  # "language", "models" left out of MATCH
    for i in range(50):
        add(index, f"common{i}:0", f"{COMMON} {COMMON} number {i}")
    add(index, "bitnet:0", "Every weight of the language model is ternary")
    add(index, "bitnet-lm:0", "Ternary weights for large language models")
    query = "How can large language models be trained with ternary weights?"
    found = index.search(query, n=2)
    assert [i for i, _ in found] == ["bitnet-lm:0", "bitnet:0"]
    full = fts5_scores(index, query)
    assert dict(found) == pytest.approx({i: full[i] for i in ("bitnet-lm:0", "bitnet:0")})
    assert sorted(full, key=full.get, reverse=True)[:2] == ["bitnet-lm:0", "bitnet:0"]
    index.close()


def test_the_index_file_lives_beside_the_local_store_or_per_server_and_collection(settings, tmp_path):
    assert lexical_path(settings, "uuid-1") == settings.index_dir / "lexical-abstracts.sqlite3"
    server = settings.model_copy(update={"chroma_host": "10.0.0.5", "chroma_port": 8001, "lexical_dir": tmp_path / "lx"})
    assert lexical_path(server, "uuid-1") == tmp_path / "lx" / "10.0.0.5-8001-abstracts-uuid-1.sqlite3"
    default_dir = settings.model_copy(update={"chroma_host": "h"})
    assert lexical_path(default_dir, "u").parent == settings.model_cache_dir / "lexical"


def write_papers(path, papers):
    path.write_text("".join(json.dumps({"id": p, "title": p.title(), "abstract": text}) + "\n" for p, text in papers))
    return path


PAPERS = [("kv", "We quantize the key-value cache to 2 bits."),
          ("moe", "A mixture of experts with 64 experts for translation."),
          ("bitnet", "Every weight of the language model is ternary.")]


def test_ingest_writes_both_stores_and_sync_reconciles_missing_and_extra_ids(settings, hash_embedder, tmp_path):
    ingest([write_papers(tmp_path / "p.jsonl", PAPERS)], settings=settings)
    store = Store(settings)
    lexical = open_lexical(settings, store)
    assert lexical.ids() == set(store.ids()) == {"kv:0", "moe:0", "bitnet:0"}
    lexical.delete(["bitnet:0"])
    add(lexical, "gone:0", "A chunk Chroma no longer has")
    assert sync_lexical(store, lexical) == (1, 1)
    assert lexical.ids() == set(store.ids())
    assert [i for i, _ in lexical.search("ternary", n=3)] == ["bitnet:0"]
    assert sync_lexical(store, lexical) == (0, 0)


def test_retriever_syncs_when_another_writer_changed_chroma(settings, hash_embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["rag.retrieve"], "get_embedder", lambda *a, **k: hash_embedder)
    ingest([write_papers(tmp_path / "p.jsonl", PAPERS[:2])], settings=settings)
    # ranked by BM25 alone; the collection's size looked up on every search
    retriever = HybridRetriever(settings.model_copy(update={"dense_weight": 0.0, "lexical_sync_interval_s": 0}))
    assert {h.paper_id for h in retriever.search("ternary weights", k=2)} == {"kv", "moe"}
    # a writer that reached Chroma only, as another process against a shared server would
    text = "Bitnet\nEvery weight of the language model is ternary."
    Store(settings).upsert(["bitnet:0"], [text], [{"paper_id": "bitnet", "title": "Bitnet"}],
                           hash_embedder.embed_documents([text]))
    hits = retriever.search("ternary weights", k=2)
    assert hits[0].paper_id == "bitnet" and hits[0].title == "Bitnet"
    assert retriever.lexical.ids() == set(retriever.store.ids())


def test_the_collection_size_is_looked_up_again_only_after_the_sync_interval_or_when_empty(settings, hash_embedder,
                                                                                         tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules["rag.retrieve"], "get_embedder", lambda *a, **k: hash_embedder)
    retriever = HybridRetriever(settings.model_copy(update={"lexical_sync_interval_s": 3600, "dense_weight": 0.0}))
    looks = []
    count = retriever.store.count
    monkeypatch.setattr(retriever.store, "count", lambda: looks.append(1) or count())
    assert retriever.search("ternary weights") == [] and retriever.search("ternary weights") == []
    assert len(looks) == 2  # empty: looked at every time
    ingest([write_papers(tmp_path / "p.jsonl", PAPERS)], settings=settings)
    assert retriever.search("ternary weights", k=1)[0].paper_id == "bitnet"
    retriever.search("ternary weights")
    assert len(looks) == 3  # not empty: once within the interval
    retriever.settings = retriever.settings.model_copy(update={"lexical_sync_interval_s": 0})
    retriever.search("ternary weights")
    assert len(looks) == 4


def test_an_ingest_that_died_between_its_two_writes_is_completed_by_a_rerun(settings, hash_embedder, tmp_path,
                                                                             monkeypatch):
    path = write_papers(tmp_path / "p.jsonl", PAPERS)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed after the Chroma write")

    with monkeypatch.context() as patch:
        patch.setattr(LexicalIndex, "add", killed)
        with pytest.raises(KeyboardInterrupt):
            ingest([path], settings=settings)
    store = Store(settings)
    assert store.count() == 3 and open_lexical(settings, store).count() == 0
    report = ingest([path], settings=settings)
    assert report.chunks_added == 0 and report.chunks_unchanged == 3
    assert open_lexical(settings, store).ids() == set(store.ids())
