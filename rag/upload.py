"""Uploads from the web UI: copied into the uploads folder (never outside it), size-limited,
zip archives unpacked safely, then ingested like files given to `rag ingest`."""
from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from .config import Settings, get_settings
from .ingest import index_stats, ingest, remove_source
from .load import SUPPORTED_SUFFIXES
from .types import IngestReport, Skipped


class UploadError(Exception):
    """An upload refused as a whole."""


def safe_name(name: str) -> str:
    """The file name alone, with anything but letters, digits, '.', '-' and '_' replaced."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name).lstrip(".")
    return cleaned or "upload"


def too_large(size: int, settings: Settings) -> str | None:
    limit = settings.upload_max_mb * 1_000_000
    return f"larger than the upload limit of {settings.upload_max_mb:g} MB (RAG_UPLOAD_MAX_MB)" if size > limit else None


def unpack_zip(path: Path, target: Path, settings: Settings) -> tuple[list[Path], list[Skipped]]:
    """The archive's supported files written under target; a member escaping it refuses the whole archive."""
    name = path.name
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UploadError(f"{name}: not a valid zip archive") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        for member in members:
            if not (target / member.filename).resolve().is_relative_to(target.resolve()):
                raise UploadError(f"{name}: {member.filename!r} points outside the upload folder; nothing was unpacked")
        if reason := too_large(sum(m.file_size for m in members), settings):
            raise UploadError(f"{name}: unpacked, {reason}")
        saved, skipped = [], []
        for member in members:
            if Path(member.filename).suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped.append(Skipped(f"{name}/{member.filename}", None, "unsupported file type; use .txt, .jsonl or .csv"))
                continue
            saved.append(extract(archive, member, target, settings))
    return saved, skipped


def extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, settings: Settings) -> Path:
    """One member, reading no more than the size limit whatever its header claims."""
    destination = (target / member.filename).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    limit = int(settings.upload_max_mb * 1_000_000)
    with archive.open(member) as source:
        data = source.read(limit + 1)
    if len(data) > limit:
        raise UploadError(f"{member.filename}: {too_large(len(data), settings)}")
    destination.write_bytes(data)
    return destination


def save_upload(path: Path, settings: Settings) -> tuple[list[Path], list[Skipped]]:
    """Files to ingest from one uploaded file, and what was refused."""
    name, folder = safe_name(path.name), settings.uploads_folder
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES | {".zip"}:
        return [], [Skipped(name, None, f"unsupported file type '{suffix}'; use .txt, .jsonl, .csv or a .zip of them")]
    if reason := too_large(path.stat().st_size, settings):
        return [], [Skipped(name, None, reason)]
    folder.mkdir(parents=True, exist_ok=True)
    if suffix == ".zip":
        try:
            return unpack_zip(path, folder / Path(name).stem, settings)
        except UploadError as err:
            return [], [Skipped(name, None, str(err).removeprefix(f"{name}: "))]
    shutil.copyfile(path, folder / name)
    return [folder / name], []


def ingest_uploads(paths: list[str | Path], settings: Settings | None = None,
                   show_progress: bool | None = None) -> IngestReport:
    """Save the uploaded files inside the uploads folder and ingest them; what cannot be used is in report.skipped."""
    settings = settings or get_settings()
    saved, refused = [], []
    for path in paths:
        files, skipped = save_upload(Path(path), settings)
        saved += files
        refused += skipped
    if saved:
        report = ingest(saved, settings=settings, show_progress=show_progress)
    else:  # ingest() with no paths would read the bundled corpus
        report = IngestReport(papers=index_stats(settings)["papers"])
    report.skipped = refused + report.skipped
    return report


def remove_upload(source: str, settings: Settings | None = None) -> int:
    """Delete a source file's papers from the index, and the file itself when it is an upload."""
    settings = settings or get_settings()
    removed = remove_source(source, settings)
    path = Path(source).resolve()
    if path.is_relative_to(settings.uploads_folder.resolve()) and path.is_file():
        path.unlink()
    return removed
