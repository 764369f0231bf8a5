"""The transformers backend on a real model: the embedded Gemma 3 270M base, converted once from its GGUF into a
Hugging Face folder in the cache (~40 s on a 2-core CPU the first time, ~5 s to load after)."""

from __future__ import annotations

import time

import pytest

from twinforge.backends import BackendError, get_backend
from twinforge.backends.base import Request
from twinforge.config import BackendConfig

SCHEMA = {"type": "object", "properties": {"label": {"enum": ["substance", "chatter"]}}, "required": ["label"]}


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def tf():
    pytest.importorskip("torch", reason="torch is not installed")
    pytest.importorskip("transformers", reason="transformers is not installed")
    start = time.monotonic()
    backend = get_backend(BackendConfig(name="transformers", max_tokens=8, temperature=0, context=1024))
    backend._loaded()  # load now, so the timing below covers conversion (first run) and loading
    print(f"\ntransformers backend ready in {time.monotonic() - start:.1f} s ({backend.folder})")
    return backend


def test_embedded_folder_is_a_plain_hf_folder(tf):
    assert (tf.folder / "config.json").is_file() and list(tf.folder.glob("*.safetensors"))
    assert "quantization_config" not in (tf.folder / "config.json").read_text(encoding="utf-8")


def test_completes_deterministically_at_temperature_0(tf):
    start = time.monotonic()
    c = tf.complete(Request(user("Name three colors."), max_tokens=8))
    print(f"\n8-token completion in {time.monotonic() - start:.1f} s: {c.text!r}")
    assert c.text.strip()
    assert 1 <= c.completion_tokens <= 8 and c.prompt_tokens > 0
    assert c.meta["backend"] == "transformers" and c.meta["device"] in ("cpu", "cuda")
    assert tf.complete(Request(user("Name three colors."), max_tokens=8)).text == c.text


def test_sampling_is_seeded(tf):
    a = tf.complete(Request(user("Write a word."), max_tokens=4, temperature=1.0))
    b = tf.complete(Request(user("Write a word."), max_tokens=4, temperature=1.0))
    assert a.text == b.text  # the seed is set on every call


def test_schema_is_only_prompted_and_errors_are_values(tf):
    results = tf.complete_many([Request(user("Is 'how do I pick a LoRA rank?' substance or chatter?"),
                                        json_schema=SCHEMA, max_tokens=4),
                                Request(user("word " * 1100), max_tokens=4)])  # past the 1024-token context
    assert results[0].meta["json_schema"] == "prompted" and results[0].prompt_tokens > 20
    assert isinstance(results[1], BackendError) and "context" in str(results[1])


def test_missing_folder():
    with pytest.raises(BackendError, match="not found"):
        get_backend(BackendConfig(name="transformers", model="/nonexistent/model-folder"))


def test_folder_without_config(tmp_path):
    with pytest.raises(BackendError, match="config.json"):
        get_backend(BackendConfig(name="transformers", model=str(tmp_path)))


def test_streams_the_same_greedy_answer_piece_by_piece(tf):
    req = Request(user("Name three colors."), max_tokens=8)
    pieces = list(tf.stream(req))
    assert len(pieces) > 1  # as generated, not one block
    assert "".join(pieces).strip() == tf.complete(req).text
    with pytest.raises(BackendError, match="context"):
        list(tf.stream(Request(user("word " * 1100), max_tokens=4)))


@pytest.mark.parametrize("pieces, expected", [
    (["Blue and", " red.\nus", "er: and you?"], "Blue and red."),  # the next turn's marker split over pieces
    (["Blue", " and red."], "Blue and red."),  # no next turn: everything, held-back tail included
    (["\nassistant: again"], ""),
])
def test_a_plain_prompt_stream_stops_where_the_model_starts_the_next_turn(pieces, expected):
    from twinforge.backends.transformers_local import _until_next_turn, cut_at_next_turn

    assert "".join(_until_next_turn(iter(pieces))) == expected == cut_at_next_turn("".join(pieces))


def test_a_stream_closed_early_stops_generating_and_frees_the_model(tf):
    it = tf.stream(Request(user("Count from 1 to 300, separated by commas."), max_tokens=300))
    assert next(it)
    it.close()  # a client that went away
    _, _, _, lock = tf._loaded()
    # 300 tokens would hold the model for ~20 s on 2 cores; stopped, it is free within a token or two
    assert lock.acquire(timeout=5), "generation went on after the consumer stopped"
    lock.release()
