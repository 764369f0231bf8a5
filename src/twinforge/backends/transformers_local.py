"""A local Hugging Face model folder through transformers: the embedded trainable base unless told otherwise.

`backend.model` is a folder with `config.json` and weights (what `save_pretrained` writes, e.g. a fine-tuned
model or a downloaded Qwen3); left empty it is the embedded Gemma 3 270M base, converted once from its GGUF into
the cache (models.embedded_trainable_folder). One model instance per process (keyed by folder), shared by every
stage that asks for it; `complete_many` runs its requests one after another behind a lock, since one model on
one device gains nothing from interleaving them here.

Device: CUDA when torch sees one (bf16), else the CPU (fp32). Prompt: the tokenizer's chat template when it has
one, else plain "role: content" lines ending in "assistant:" (the embedded base model has no template).
Decoding: greedy at temperature 0, else sampling seeded with `backend.seed` on every call, so a run's output does
not depend on what ran before it.

JSON schemas are NOT enforced: there is no constrained decoding here. The schema is put into the prompt as an
instruction to answer with JSON of that shape, and the caller (the distill stage) validates and repairs the
output as it does for any backend that cannot guarantee it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from ..errors import TwinforgeError
from .base import BackendError, Completion, Message, Request, complete_in_order
from .config import BackendConfig

INSTALL_HINT = "pip install torch transformers (and accelerate gguf for the embedded model)"


@lru_cache(maxsize=2)
def _load(folder: str):
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendError("the transformers backend needs torch and transformers, which are not installed",
                           INSTALL_HINT) from e
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    except (OSError, ValueError, KeyError) as e:  # missing weights, unknown architecture, broken config
        raise BackendError(f"transformers cannot load {folder} ({e})",
                           "is it a complete Hugging Face model folder (config.json, weights, tokenizer)?") from e
    model.to(device)
    model.eval()
    return model, tokenizer, device, threading.Lock()  # one model decodes one request at a time


def _json_instruction(schema: dict) -> str:
    return ("Answer with a single JSON value only, no prose and no code fences, matching this JSON schema:\n"
            + json.dumps(schema, ensure_ascii=False))


def _with_schema(messages: list[Message], schema: dict | None) -> list[Message]:
    """The messages, with the JSON instruction appended to the last user message (or added as one)."""
    if schema is None:
        return list(messages)
    out = [dict(m) for m in messages]
    note = _json_instruction(schema)
    for m in reversed(out):
        if m.get("role") == "user":
            m["content"] = f"{m.get('content', '')}\n\n{note}"
            return out
    return [*out, {"role": "user", "content": note}]


def _plain_prompt(messages: list[Message]) -> str:
    lines = [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages]
    return "\n\n".join(lines) + "\n\nassistant:"


# a base model on a plain prompt tends to write the next turn itself after its answer
_TURNS = ("\nuser:", "\nsystem:", "\nassistant:")
_HOLD = max(map(len, _TURNS))


def cut_at_next_turn(text: str, turns: tuple[str, ...] = _TURNS) -> str:
    """Keep only the assistant's turn of a plain-prompt answer: the text before the first of `turns`."""
    return text[:min((i for i in (text.find(t) for t in turns) if i >= 0), default=len(text))]


def _until_next_turn(pieces: Iterator[str]) -> Iterator[str]:
    """`cut_at_next_turn` for a stream: pass text through, holding back just enough to see a turn coming."""
    text, sent = "", 0
    for piece in pieces:
        text += piece
        cut = min((i for i in (text.find(t) for t in _TURNS) if i >= 0), default=-1)
        if cut >= 0:
            if cut > sent:
                yield text[sent:cut]
            return
        if len(text) - _HOLD > sent:
            yield text[sent:len(text) - _HOLD]
            sent = len(text) - _HOLD
    if len(text) > sent:
        yield text[sent:]


def stream_generate(model, tokenizer, messages: list[Message], *, max_new_tokens: int, lock,
                    name: str = "the model", context: int | None = None) -> Iterator[str]:
    """Greedy answer pieces as `generate` writes them (a `TextIteratorStreamer`; generation runs in its own
    thread behind `lock`). A consumer that stops early (`close()`, or the plain prompt's next turn) stops
    generation at the next token. Used by the transformers backend and by a base model with adapters."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    inputs, templated = encode_chat(tokenizer, messages, name)
    prompt_tokens = int(inputs["input_ids"].shape[1])
    if context is not None and prompt_tokens + max_new_tokens > context:
        raise BackendError(f"the prompt ({prompt_tokens} tokens) plus max_tokens ({max_new_tokens}) exceed the "
                           f"context of {context}",
                           "raise backend.context, or send a shorter prompt / smaller max_tokens")
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    stop = threading.Event()
    failed: list[BaseException] = []

    class _Stopped(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

    def generate() -> None:
        try:
            with lock, torch.inference_mode():
                model.generate(**inputs, streamer=streamer, do_sample=False, max_new_tokens=max_new_tokens,
                               stopping_criteria=StoppingCriteriaList([_Stopped()]),
                               pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        except (RuntimeError, ValueError) as e:  # e.g. CUDA out of memory
            failed.append(e)
            streamer.end()

    threading.Thread(target=generate, daemon=True, name="transformers-stream").start()
    try:
        yield from (iter(streamer) if templated else _until_next_turn(iter(streamer)))
    finally:
        stop.set()
    if failed:
        raise BackendError(f"transformers failed to generate: {failed[0]}")


class TransformersBackend:
    name = "transformers"

    def __init__(self, cfg: BackendConfig):
        self.cfg = cfg
        if cfg.model:
            folder = Path(cfg.model).expanduser()
            if not folder.is_dir():
                raise BackendError(f"model folder {folder} not found",
                                   "give backend.model as a Hugging Face model folder (with config.json), or "
                                   "leave it empty for the embedded model")
            if not (folder / "config.json").is_file():
                raise BackendError(f"{folder} has no config.json, so it is not a Hugging Face model folder",
                                   "point backend.model at the folder save_pretrained wrote (config.json, "
                                   "weights, tokenizer files)")
        else:
            from ..models.embedded import embedded_trainable_folder

            try:
                folder = embedded_trainable_folder()
            except TwinforgeError as e:
                raise BackendError(e.message, e.hint) from e
        self.folder = folder
        self.model = folder.name

    def _loaded(self):
        return _load(str(self.folder))

    def _encode(self, tokenizer, messages: list[Message]):
        return encode_chat(tokenizer, messages, self.model)

    def complete(self, request: Request) -> Completion:
        import torch

        model, tokenizer, device, lock = self._loaded()
        messages = _with_schema(request.messages, request.json_schema)
        inputs, templated = self._encode(tokenizer, messages)
        inputs = {k: v.to(device) for k, v in inputs.items()}
        prompt_tokens = int(inputs["input_ids"].shape[1])
        max_new = request.max_tokens or self.cfg.max_tokens
        if prompt_tokens + max_new > self.cfg.context:
            raise BackendError(f"the prompt ({prompt_tokens} tokens) plus max_tokens ({max_new}) exceed the "
                               f"context of {self.cfg.context}",
                               "raise backend.context, or send a shorter prompt / smaller max_tokens")
        temperature = self.cfg.temperature if request.temperature is None else request.temperature
        kwargs = {"max_new_tokens": max_new, "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        try:
            with lock, torch.inference_mode():
                if temperature > 0:
                    torch.manual_seed(self.cfg.seed)  # per call: reproducible whatever ran before
                out = model.generate(**inputs, **kwargs)
        except (RuntimeError, ValueError) as e:  # e.g. CUDA out of memory
            raise BackendError(f"transformers failed to generate: {e}") from e
        new = out[0][prompt_tokens:]
        eos = {tokenizer.eos_token_id, *(_as_list(getattr(model.generation_config, "eos_token_id", None)))}
        hit_eos = len(new) > 0 and int(new[-1]) in eos
        text = tokenizer.decode(new, skip_special_tokens=True)
        if not templated:
            cut = cut_at_next_turn(text)
            hit_eos = hit_eos or cut != text
            text = cut
        return Completion(
            text=text.strip(),
            model=self.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new),
            meta={"backend": self.name, "path": str(self.folder), "device": device,
                  "finish_reason": "stop" if hit_eos or len(new) < max_new else "length",
                  "json_schema": "prompted" if request.json_schema is not None else None},
        )

    def complete_many(self, requests: Sequence[Request]) -> list[Completion | BackendError]:
        return complete_in_order(self, requests)

    def stream(self, request: Request) -> Iterator[str]:
        """Greedy answer pieces as they are generated; JSON requests and sampling use complete()."""
        temperature = self.cfg.temperature if request.temperature is None else request.temperature
        if request.json_schema is not None or temperature > 0:
            yield self.complete(request).text
            return
        model, tokenizer, _, lock = self._loaded()
        yield from stream_generate(model, tokenizer, request.messages, lock=lock, name=self.model,
                                   max_new_tokens=request.max_tokens or self.cfg.max_tokens, context=self.cfg.context)


def encode_chat(tokenizer, messages: list[Message], model: str = "the model") -> tuple[dict, bool]:
    """Token ids for a chat: the tokenizer's chat template when it has one, else the plain `role: content` prompt.
    Returns them and whether the template was used (a plain prompt's answer must be cut at the next turn)."""
    if getattr(tokenizer, "chat_template", None):
        try:
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True,
                                                return_tensors="pt")
            return ids, True
        except Exception as e:  # templates are Jinja code: a role they reject raises anything
            raise BackendError(f"the chat template of {model} rejected the messages ({e})",
                               "some templates allow no system message, or need user/assistant turns to "
                               "alternate") from e
    return tokenizer(_plain_prompt(messages), return_tensors="pt"), False


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def create(cfg: BackendConfig) -> TransformersBackend:
    return TransformersBackend(cfg)
