"""Rendering, the assistant-only mask, packing and the chunked loss — no training, only the tokenizer."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from twinforge.models.embedded import embedded_trainable_folder
    from twinforge.train.data import ensure_chat_template

    t = AutoTokenizer.from_pretrained(str(embedded_trainable_folder()))
    assert ensure_chat_template(t) == "plain"
    return t


EXAMPLE = {"messages": [
    {"role": "system", "content": "Ты двойник."},
    {"role": "user", "content": "Что такое LoRA?"},
    {"role": "assistant", "content": "Низкоранговая добавка."},
    {"role": "user", "content": "А QLoRA?"},
    {"role": "assistant", "content": "То же на 4-битной базе."},
]}


def _labeled(tok, enc):
    return [(tok.convert_ids_to_tokens(i), lab != -100) for i, lab in zip(enc.input_ids, enc.labels, strict=True)]


def test_plain_template_masks_everything_but_assistant_text_and_its_eos(tok):
    from twinforge.train.data import encode

    text = tok.apply_chat_template(EXAMPLE["messages"], tokenize=False)
    assert text == ("<bos>system: Ты двойник.\n\nuser: Что такое LoRA?\n\nassistant: Низкоранговая добавка.<eos>"
                    "\n\nuser: А QLoRA?\n\nassistant: То же на 4-битной базе.<eos>")
    [enc], stats = encode(tok, [EXAMPLE], 256)
    assert stats["unmatched_turns"] == 0
    kept = [i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != -100]
    assert tok.decode(kept) == " Низкоранговая добавка.<eos> То же на 4-битной базе.<eos>"
    # exactly which tokens: everything up to and including "assistant:" is masked, then the answer and <eos>
    marks = _labeled(tok, enc)
    first = next(i for i, (_, on) in enumerate(marks) if on)
    assert "".join(t for t, _ in marks[:first]).replace("▁", " ").endswith("assistant:")
    assert [t for t, on in marks if on].count("<eos>") == 2
    assert not any(on for t, on in marks if t in ("user", "system", "<bos>"))
    assert enc.labels[enc.input_ids.index(tok.convert_tokens_to_ids("<eos>")) + 1] == -100  # "\n\n" after it


def test_model_template_labels_the_end_of_turn_token(tok):
    """A tokenizer with its own template (Gemma's turn format here): the turn-closing special token is learned,
    the newline after it and the next turn's header are not."""
    from twinforge.train.data import encode

    tok2 = tok.__class__.from_pretrained(tok.name_or_path)
    tok2.chat_template = ("{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else "
                          "m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}")
    [enc], _ = encode(tok2, [EXAMPLE], 256)
    kept = [i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != -100]
    assert tok2.decode(kept) == "Низкоранговая добавка.<end_of_turn>То же на 4-битной базе.<end_of_turn>"


def test_truncation_and_examples_left_without_labels(tok):
    from twinforge.train.data import encode

    long_prompt = {"messages": [{"role": "user", "content": "слово " * 200}, {"role": "assistant", "content": "да"}]}
    rows, stats = encode(tok, [EXAMPLE, long_prompt], 32)
    assert len(rows) == 1 and stats["dropped_no_labels"] == 1 and stats["truncated"] == 2
    assert all(len(r) <= 32 for r in rows)


def test_packing_places_every_example_once_and_fills_rows():
    import random

    from twinforge.train.data import pack

    rnd = random.Random(3)
    lengths = [rnd.randint(5, 120) for _ in range(500)]
    rows = pack(lengths, 128)
    placed = sorted(i for r in rows for i in r)
    assert placed == list(range(500))
    assert all(sum(lengths[i] for i in r) <= 128 for r in rows)
    lower = -(-sum(lengths) // 128)
    assert len(rows) <= lower * 1.03, (len(rows), lower)  # best-fit decreasing: within 3% of perfect


def test_collate_restarts_positions_per_example_and_never_labels_across_them(tok):
    from twinforge.train.data import IGNORE, Encoded, collate

    enc = [Encoded([2, 10, 11], [IGNORE, 10, 11]), Encoded([2, 20], [IGNORE, 20]),
           Encoded([2, 30, 31, 32], [IGNORE, 30, 31, 32])]
    b = collate(enc, [[0, 1], [2]], tok.pad_token_id, "cpu")
    assert b["position_ids"].tolist() == [[0, 1, 2, 0, 1], [0, 1, 2, 3, 0]]
    assert b["labels"].tolist() == [[IGNORE, 10, 11, IGNORE, 20], [IGNORE, 30, 31, 32, IGNORE]]
    assert b["tokens"] == 9


def test_packed_rows_attend_only_within_their_example():
    """transformers builds a block-diagonal mask from restarting position ids: the second example's logits are
    the same packed as alone."""
    from transformers import AutoModelForCausalLM

    from twinforge.models.embedded import embedded_trainable_folder

    model = AutoModelForCausalLM.from_pretrained(str(embedded_trainable_folder()))
    model.eval()
    a, b = [2, 651, 1001, 4521], [2, 777, 90, 12]
    with torch.no_grad():
        packed = model(input_ids=torch.tensor([a + b]), position_ids=torch.tensor([[0, 1, 2, 3] * 2]),
                       use_cache=False).logits[0, 4:]
        alone = model(input_ids=torch.tensor([b]), use_cache=False).logits[0]
    assert torch.allclose(packed, alone, atol=1e-4)


def test_chunked_cross_entropy_matches_the_plain_one():
    import torch.nn.functional as F

    from twinforge.train import loss as L

    torch.manual_seed(0)
    for cap in (None, 7.0):
        h = torch.randn(300, 32, dtype=torch.float64, requires_grad=True)
        w = torch.randn(1000, 32, dtype=torch.float64)
        t = torch.randint(0, 1000, (300,))
        ours = L.linear_cross_entropy(h, w, t, cap)
        ours.backward()
        g = h.grad.clone()
        h.grad = None
        logits = h @ w.T
        if cap:
            logits = torch.tanh(logits / cap) * cap
        ref = F.cross_entropy(logits, t)
        ref.backward()
        assert abs(ours.item() - ref.item()) < 1e-5
        assert torch.allclose(g, h.grad, atol=1e-7)


def test_bad_jsonl_lines_name_the_line(tmp_path):
    from twinforge.errors import InputError
    from twinforge.train.data import read_examples

    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps(EXAMPLE, ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.jsonl:2: not JSON"):
        read_examples(f)
    f.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    with pytest.raises(InputError, match="no assistant message"):
        read_examples(f)
    f.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        read_examples(f)


def test_every_base_recipe_loads_and_names_local_weights_only(monkeypatch, tmp_path):
    from twinforge.errors import ConfigError
    from twinforge.models.base import recipes, resolve_base

    names = set(recipes())
    assert {"embedded", "qwen3-0.6b-base", "qwen3-1.7b-base", "qwen3-4b-base", "qwen3-8b-base", "qwen3-14b-base",
            "qwen3-32b", "qwen3-30b-a3b-base"} <= names
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty HF cache: nothing may be downloaded
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="Qwen/Qwen3-8B-Base") as e:
        resolve_base("qwen3-8b-base")
    assert "--base" in str(e.value)
    with pytest.raises(ConfigError, match="not found"):
        resolve_base(tmp_path / "nope")
