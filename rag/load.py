"""Load stage: read abstract collections into Papers.

Formats: "Daily Papers" page dumps (.txt), JSON lines (.jsonl) and CSV (.csv)
with fields id, title, abstract and optional authors, date, categories (or the
arXiv snapshot's update_date and versions). JSONL and CSV are read one line at
a time, so memory does not grow with the file. Every entry that cannot be read
becomes a Skipped naming its file and line.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from .types import Paper, Skipped

SUPPORTED_SUFFIXES = {".txt", ".jsonl", ".json", ".csv"}  # .json: JSON lines, as arXiv's snapshot
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
HEAD_BYTES = 4096
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
ByteCounter = Callable[[int], None]  # told how many bytes of a file were just read


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


def check_head(head: bytes, size: int) -> None:
    """A whole-file verdict from its first bytes: empty, or binary rather than text."""
    if size == 0 or (size <= len(head) and not head.strip()):
        raise LoadError("the file is empty")
    if b"\x00" in head:
        raise LoadError("looks like a binary file, not text; give a .txt, .jsonl, .json (JSON lines) or .csv file of abstracts")


def read_text(path: Path, on_read: ByteCounter | None = None) -> str:
    data = path.read_bytes()
    check_head(data[:HEAD_BYTES], len(data))
    if on_read:
        on_read(len(data))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise LoadError(f"not valid UTF-8 (byte {err.start}); re-save the file as UTF-8", line) from None


def byte_lines(path: Path, on_read: ByteCounter | None = None) -> Iterator[tuple[int, bytes]]:
    """Numbered raw lines of a file, read one at a time."""
    with path.open("rb") as handle:
        check_head(handle.read(HEAD_BYTES), path.stat().st_size)
        handle.seek(0)
        for number, raw in enumerate(handle, start=1):
            if on_read:
                on_read(len(raw))
            yield number, raw


def decode_line(raw: bytes, number: int) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LoadError(f"not valid UTF-8 (byte {err.start} of the line); re-save the file as UTF-8", number) from None


def read_daily_papers(path: Path, on_read: ByteCounter | None = None) -> Iterator[Paper | Skipped]:
    papers, skipped = parse_daily_papers(read_text(path, on_read), str(path))  # page dumps are small
    yield from skipped
    yield from papers


def read_path(path: Path, on_read: ByteCounter | None = None) -> Iterator[Paper | Skipped]:
    """Papers from one file and what was skipped in it, as they are read."""
    if not path.exists():
        yield Skipped(str(path), None, "no such file or folder")
        return
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        yield Skipped(str(path), None, f"unsupported file type '{path.suffix}'; use .txt, .jsonl, .json (JSON lines) or .csv")
        return
    try:
        yield from reader(path, on_read)
    except LoadError as err:
        yield Skipped(str(path), err.line, err.reason)


def expand_paths(paths: list[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Files named directly, plus the supported files inside named folders."""
    files, skipped = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                skipped.append(Skipped(str(path), None, "folder holds no .txt, .jsonl, .json or .csv files"))
            files += found
        elif path.exists() or path.suffix:
            files.append(path)
        else:
            skipped.append(Skipped(str(path), None, "no such file or folder"))
    return files, skipped


def read_files(files: list[Path], on_read: ByteCounter | None = None) -> Iterator[Paper | Skipped]:
    for file in files:
        yield from read_path(file, on_read)


def load_papers(paths: list[str | Path]) -> tuple[list[Paper], list[Skipped]]:
    """Every paper of these files and folders in memory (small collections; ingest streams instead)."""
    files, skipped = expand_paths(paths)
    papers, bad = split_results(read_files(files))
    return papers, skipped + bad


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

def record_date(record: dict) -> str:
    """The record's date, else its update_date, else its first version's date (arXiv snapshot)."""
    versions = record.get("versions")
    first_version = versions[0] if isinstance(versions, list) and versions else {}
    created = first_version.get("created") if isinstance(first_version, dict) else None
    return str(record.get("date") or record.get("update_date") or created or "")


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
    date_text = record_date(record)
    return Paper(
        paper_id=own_id or paper_id_for(title),
        title=title or abstract[:80].rsplit(" ", 1)[0] + "...",
        abstract=abstract, source=source, line=line, date=date_text, year=year_of(date_text),
        authors=str(record.get("authors") or ""), categories=str(record.get("categories") or ""),
    )


def split_results(results: Iterable[Paper | Skipped]) -> tuple[list[Paper], list[Skipped]]:
    papers, skipped = [], []
    for result in results:
        (papers if isinstance(result, Paper) else skipped).append(result)
    return papers, skipped


def jsonl_record(raw: bytes, number: int, source: str) -> Paper | Skipped | None:
    """The paper on one JSONL line, a Skipped saying why not, or None for a blank line."""
    try:
        line = decode_line(raw, number)
    except LoadError as err:
        return Skipped(source, number, err.reason)
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return Skipped(source, number, f"malformed JSON: {err.msg} at column {err.colno}")
    return paper_from_record(record, source, number)


def read_jsonl(path: Path, on_read: ByteCounter | None = None) -> Iterator[Paper | Skipped]:
    for number, raw in byte_lines(path, on_read):
        if (result := jsonl_record(raw, number, str(path))) is not None:
            yield result


def read_json_lines(path: Path, on_read: ByteCounter | None = None) -> Iterator[Paper | Skipped]:
    """A .json file holding one object per line (arXiv's snapshot); a JSON array is refused, not loaded whole."""
    with path.open("rb") as handle:
        if handle.read(HEAD_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            raise LoadError("a JSON array, not JSON lines; write one object per line (.jsonl) so it can be streamed", 1)
    yield from read_jsonl(path, on_read)


def read_csv(path: Path, on_read: ByteCounter | None = None) -> Iterator[Paper | Skipped]:
    """Rows as papers; a line that is not UTF-8 ends the file there (a row may span lines)."""
    source = str(path)
    reader = csv.DictReader(decode_line(raw, number) for number, raw in byte_lines(path, on_read))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if "abstract" not in columns:
        yield Skipped(source, 1, f"CSV has no 'abstract' column (columns: {', '.join(columns) or 'none'})")
        return
    for row in reader:
        record = {(k or "").strip().lower(): v for k, v in row.items()}
        # the reader's line_num is the last physical line of the row
        yield paper_from_record(record, source, reader.line_num)


READERS = {".txt": read_daily_papers, ".jsonl": read_jsonl, ".json": read_json_lines, ".csv": read_csv}


# --- filters -------------------------------------------------------------------

def parse_date(text: str) -> date | None:
    """A full date from "2023-01-31", "Mon, 2 Apr 2007 19:18:42 GMT" or "Oct 28, 2024"; None otherwise."""
    text = (text or "").strip()
    if found := ISO_DATE.search(text):
        try:
            return date(*map(int, found.groups()))
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.strptime(text.replace("Sept ", "Sep "), "%b %d, %Y").date()
    except ValueError:
        return None


def in_category(paper_categories: str, wanted: str) -> bool:
    """Any of the space-separated categories is the wanted one or inside it ("cs" holds "cs.CL")."""
    return any(c == wanted or c.startswith(wanted + ".") for c in paper_categories.split())


@dataclass(frozen=True)
class PaperFilter:
    """Which papers an ingest keeps: any of these categories, dated on or after `since`."""
    categories: tuple[str, ...] = ()
    since: date | None = None

    def __bool__(self) -> bool:
        return bool(self.categories) or self.since is not None

    def accepts(self, paper: Paper) -> bool:
        if self.categories and not any(in_category(paper.categories, c) for c in self.categories):
            return False
        if self.since is None:
            return True
        published = parse_date(paper.date)
        return published is not None and published >= self.since
