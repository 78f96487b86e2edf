"""Parsing the bundled corpus and the user's own JSONL/CSV files, including bad input."""
from __future__ import annotations

import json
from collections import Counter

from rag.config import Settings
from rag.load import clean_latex, load_papers, paper_id_for, parse_daily_papers

CORPUS = Settings().corpus_dir


def test_bundled_corpus_has_714_entries_and_686_papers():
    papers, skipped = load_papers([CORPUS])
    assert skipped == []
    assert len(papers) == 714
    assert len({p.paper_id for p in papers}) == 686
    assert all(len(p.abstract) > 200 for p in papers)
    repeats = sum(n - 1 for n in Counter(p.paper_id for p in papers).values())
    assert repeats == 28
    by_id = {}
    for p in papers:
        assert by_id.setdefault(p.paper_id, p.abstract) == p.abstract


def test_no_page_furniture_is_taken_for_a_paper():
    papers, _ = load_papers([CORPUS])
    titles = {p.title for p in papers}
    for noise in ["new", "Subscribe", "Daily Papers", "byAK and the research community", "·", "openbmb OpenBMB",
                  "Mar 11", "Get trending papers in your email inbox!"]:
        assert noise not in titles
    assert not any(t.startswith("Subscribe") or "authors" in t.split()[-1:] for t in titles)
    assert "Decentralized Diffusion Models" in titles      # glued to "Subscribe" in file 000
    assert "Densing Law of LLMs" in titles                 # followed by an organisation line


def test_dates_and_author_counts_attach_to_their_paper():
    papers, _ = load_papers([CORPUS])
    by_title = {p.title: p for p in papers}
    merging = by_title["What Matters for Model Merging at Scale?"]
    assert (merging.date, merging.year, merging.author_count) == ("Oct 4, 2024", 2024, 7)
    sg = by_title["SG-Former: Self-guided Transformer with Evolving Token Reallocation"]
    assert (sg.date, sg.year, sg.author_count) == ("Aug 23, 2023", 2023, 4)
    assert by_title["Densing Law of LLMs"].date == "Dec 5, 2024"


def test_latex_escapes_become_plain_text():
    assert clean_latex(r"reduces cost by 50\% with \textbf{Varco Arena} and M\'elange") == \
        "reduces cost by 50% with Varco Arena and Mélange"
    assert clean_latex(r"T\"ulu in \( O(n^2) \) time") == "Tülu in O(n^2) time"
    papers, _ = load_papers([CORPUS])
    assert not any("\\%" in p.abstract for p in papers)


def test_both_layouts_parse_the_same_way():
    glued = "Get trending papers in your email inbox!\nSubscribeFirst Paper\n" + "A" * 300 + "\nSecond Paper\n" + "B" * 300 + "\n"
    spaced = "new\n\nSubscribe\n\nMar 11\n\nFirst Paper\n\n" + "A" * 300 + "\n\n  • 3 authors\n·\nMar 6\n\nSecond Paper\n\n" + "B" * 300 + "\n"
    for text in (glued, spaced):
        papers, skipped = parse_daily_papers(text, "x.txt")
        assert [p.title for p in papers] == ["First Paper", "Second Paper"] and not skipped


def test_title_without_abstract_is_reported_with_its_line():
    papers, skipped = parse_daily_papers("Lonely Title\n\nMar 6\n\nGood Paper\n\n" + "x " * 100, "f.txt")
    assert [p.title for p in papers] == ["Good Paper"]
    assert skipped[0].file == "f.txt" and skipped[0].line == 1


def test_jsonl_records_and_bad_lines(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [
        json.dumps({"id": "2401.00001", "title": "A Paper", "abstract": "We study things.", "date": "2024-01-02", "authors": "A. B"}),
        "{not json",
        json.dumps({"id": "2401.00002", "title": "Empty", "abstract": "  "}),
        json.dumps({"id": "2401.00003", "abstract": "No title here, only an abstract about graphs."}),
        "",
        json.dumps(["a", "list"]),
    ]
    path.write_text("\n".join(rows) + "\n")
    papers, skipped = load_papers([path])
    assert [p.paper_id for p in papers] == ["2401.00001", "2401.00003"]
    assert papers[0].year == 2024 and papers[0].authors == "A. B"
    assert papers[1].title.startswith("No title here")
    reasons = {s.line: s.reason for s in skipped}
    assert set(reasons) == {2, 3, 6}
    assert "malformed JSON" in reasons[2] and "empty abstract" in reasons[3]
    assert all(s.file == str(path) for s in skipped)


def test_csv_records_and_missing_abstract_column(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text('id,title,abstract,categories\n1,"Graph Nets","We, the authors, propose graphs.",cs.LG\n2,Blank,\n')
    papers, skipped = load_papers([good])
    assert [p.title for p in papers] == ["Graph Nets"] and papers[0].categories == "cs.LG"
    assert skipped[0].line == 3 and "empty abstract" in skipped[0].reason
    bad = tmp_path / "bad.csv"
    bad.write_text("id,title,summary\n1,x,y\n")
    papers, skipped = load_papers([bad])
    assert papers == [] and "no 'abstract' column" in skipped[0].reason and skipped[0].file == str(bad)


def test_unreadable_files_are_named_and_others_still_load(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\x00\x00\x01\x02" * 10)
    (tmp_path / "latin1.jsonl").write_bytes(b'{"id": "1", "title": "x", "abstract": "caf\xe9"}\n')
    (tmp_path / "ok.jsonl").write_text(json.dumps({"id": "ok1", "title": "Fine", "abstract": "Fine abstract."}) + "\n")
    papers, skipped = load_papers([tmp_path, tmp_path / "missing.jsonl"])
    assert [p.paper_id for p in papers] == ["ok1"]
    reasons = {s.file.rsplit("/", 1)[-1]: s.reason for s in skipped}
    assert "empty" in reasons["empty.jsonl"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["latin1.jsonl"]
    assert "no such file" in reasons["missing.jsonl"]
    latin = next(s for s in skipped if s.file.endswith("latin1.jsonl"))
    assert latin.line == 1


def test_paper_id_ignores_case_and_punctuation():
    assert paper_id_for("Large Language Models as Optimizers") == paper_id_for("large language models as optimizers!")
    assert paper_id_for("A") != paper_id_for("B")
