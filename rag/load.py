"""Load stage: read abstract collections into Papers.

Formats: "Daily Papers" page dumps (.txt), JSON lines (.jsonl) and CSV (.csv)
with fields id, title, abstract and optional authors, date, categories.
Every entry that cannot be read becomes a Skipped naming its file and line.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from pathlib import Path

from .types import Paper, Skipped

SUPPORTED_SUFFIXES = {".txt", ".jsonl", ".csv"}
PAGE_HEADER_LINES = {
    "new", "subscribe", "daily papers", "byak and the research community",
    "get trending papers in your email inbox!", "get trending papers in your email inbox once a day!",
}
MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
DATE_LINE = re.compile(rf"^(?P<date>{MONTH} \d{{1,2}}(?:, \d{{4}})?)(?: \d+)?$")
AUTHORS_LINE = re.compile(r"^•\s*(?P<count>\d+) authors?$")
SEPARATOR_LINE = "·"
LATEX_SYMBOLS = {"times": "×", "textmu": "µ", "eg": "e.g.", "ie": "i.e.", "aka": "a.k.a.", "%": "%",
                 "&": "&", "_": "_", "#": "#", "$": "$", "{": "{", "}": "}", "\\": "", "(": "", ")": ""}
LATEX_WITH_ARG = re.compile(r"\\(?:textbf|textit|texttt|emph|url|mathrm|text)\{([^{}]*)\}")
LATEX_COMMAND = re.compile(r"\\([A-Za-z]+|[%&_#${}\\()])")
LATEX_ACCENT = re.compile(r"""\\(['"`^~])\{?([A-Za-z])\}?""")
COMBINING_ACCENTS = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303"}
MIN_ABSTRACT_CHARS = 80


class LoadError(Exception):
    """A whole file could not be read."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason, self.line = reason, line


def normalise_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def paper_id_for(title: str) -> str:
    """Stable id from the normalised title, so the same paper gets the same id on every run."""
    return hashlib.sha1(normalise_title(title).encode()).hexdigest()[:16]


def clean_latex(text: str) -> str:
    """Turn LaTeX escapes left in abstracts into plain text."""
    text = LATEX_ACCENT.sub(lambda m: unicodedata.normalize("NFC", m.group(2) + COMBINING_ACCENTS[m.group(1)]), text)
    text = LATEX_WITH_ARG.sub(r"\1", text)
    text = re.sub(r"\\(\d)", r"$\1", text)  # "\1,890": a dollar sign lost in extraction
    text = LATEX_COMMAND.sub(lambda m: LATEX_SYMBOLS.get(m.group(1), m.group(1)), text)
    return re.sub(r"\s{2,}", " ", text).strip()


def year_of(date: str) -> int | None:
    found = re.search(r"\b(19|20)\d{2}\b", date or "")
    return int(found.group(0)) if found else None


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise LoadError("the file is empty")
    if b"\x00" in data[:4096]:
        raise LoadError("looks like a binary file, not text; give a .txt, .jsonl or .csv file of abstracts")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise LoadError(f"not valid UTF-8 (byte {err.start}); re-save the file as UTF-8", line) from None


def load_path(path: Path) -> tuple[list[Paper], list[Skipped]]:
    """Papers from one file, and what was skipped in it."""
    if not path.exists():
        return [], [Skipped(str(path), None, "no such file or folder")]
    reader = {".txt": parse_daily_papers, ".jsonl": parse_jsonl, ".csv": parse_csv}.get(path.suffix.lower())
    if reader is None:
        return [], [Skipped(str(path), None, f"unsupported file type '{path.suffix}'; use .txt, .jsonl or .csv")]
    try:
        return reader(read_text(path), str(path))
    except LoadError as err:
        return [], [Skipped(str(path), err.line, err.reason)]


def expand_paths(paths: list[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Files named directly, plus the supported files inside named folders."""
    files, skipped = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                skipped.append(Skipped(str(path), None, "folder holds no .txt, .jsonl or .csv files"))
            files += found
        elif path.exists() or path.suffix:
            files.append(path)
        else:
            skipped.append(Skipped(str(path), None, "no such file or folder"))
    return files, skipped


def load_papers(paths: list[str | Path]) -> tuple[list[Paper], list[Skipped]]:
    files, skipped = expand_paths(paths)
    papers: list[Paper] = []
    for file in files:
        found, bad = load_path(file)
        papers += found
        skipped += bad
    return papers, skipped


# --- "Daily Papers" page dumps ---------------------------------------------

def is_metadata_line(line: str) -> bool:
    return (line.lower() in PAGE_HEADER_LINES or line == SEPARATOR_LINE
            or bool(DATE_LINE.match(line)) or bool(AUTHORS_LINE.match(line)))


def content_lines(text: str) -> list[tuple[int, str]]:
    """Numbered non-empty lines, with the "Subscribe" glued to the first title removed."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("Subscribe") and len(line) > len("Subscribe"):
            line = line[len("Subscribe"):].strip()
        if line:
            lines.append((number, line))
    return lines


def parse_daily_papers(text: str, source: str) -> tuple[list[Paper], list[Skipped]]:
    """Title line, abstract line, then optional author count / organisation, "·" and date lines."""
    lines = content_lines(text)
    papers: list[Paper] = []
    skipped: list[Skipped] = []
    i = 0
    while i < len(lines):
        number, line = lines[i]
        next_line = lines[i + 1][1] if i + 1 < len(lines) else ""
        # an author-count or organisation line always stands just before the "·" separator
        if is_metadata_line(line) or next_line == SEPARATOR_LINE:
            attach_metadata(papers, line, number, source)
            i += 1
            continue
        if not next_line or is_metadata_line(next_line) or len(next_line) < MIN_ABSTRACT_CHARS:
            skipped.append(Skipped(source, number, f"title without an abstract: {line[:60]!r}"))
            i += 1
            continue
        title = clean_latex(line)
        papers.append(Paper(paper_id_for(title), title, clean_latex(next_line), source, number))
        i += 2
    return papers, skipped


def attach_metadata(papers: list[Paper], line: str, number: int, source: str) -> None:
    """Author counts and dates that follow an abstract belong to the paper just read."""
    if not papers or papers[-1].source != source:
        return
    last = papers[-1]
    if authors := AUTHORS_LINE.match(line):
        last.author_count = int(authors.group("count"))
    elif (date := DATE_LINE.match(line)) and not last.date and number > last.line:
        last.date = date.group("date")
        last.year = year_of(last.date)


# --- JSONL and CSV records ---------------------------------------------------

def paper_from_record(record: dict, source: str, line: int) -> Paper | Skipped:
    if not isinstance(record, dict):
        return Skipped(source, line, "record is not a JSON object")
    abstract = clean_latex(str(record.get("abstract") or ""))
    if not abstract:
        return Skipped(source, line, "empty abstract")
    title = clean_latex(str(record.get("title") or ""))
    own_id = str(record.get("id") or "").strip()
    if not title and not own_id:
        return Skipped(source, line, "record has neither a title nor an id")
    date = str(record.get("date") or record.get("update_date") or "")
    return Paper(
        paper_id=own_id or paper_id_for(title),
        title=title or abstract[:80].rsplit(" ", 1)[0] + "...",
        abstract=abstract, source=source, line=line, date=date, year=year_of(date),
        authors=str(record.get("authors") or ""), categories=str(record.get("categories") or ""),
    )


def split_results(results: list[Paper | Skipped]) -> tuple[list[Paper], list[Skipped]]:
    return [r for r in results if isinstance(r, Paper)], [r for r in results if isinstance(r, Skipped)]


def parse_jsonl(text: str, source: str) -> tuple[list[Paper], list[Skipped]]:
    results: list[Paper | Skipped] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            results.append(Skipped(source, number, f"malformed JSON: {err.msg} at column {err.colno}"))
            continue
        results.append(paper_from_record(record, source, number))
    return split_results(results)


def parse_csv(text: str, source: str) -> tuple[list[Paper], list[Skipped]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "abstract" not in columns:
        return [], [Skipped(source, 1, f"CSV has no 'abstract' column (columns: {', '.join(columns) or 'none'})")]
    results: list[Paper | Skipped] = []
    for row in reader:
        record = {(k or "").strip().lower(): v for k, v in row.items()}
        # the reader's line_num is the last physical line of the row
        results.append(paper_from_record(record, source, reader.line_num))
    return split_results(results)
