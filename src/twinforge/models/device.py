"""Which device trains, in which dtype, and whether 4-bit QLoRA is possible there.

CUDA covers ROCm too: ROCm builds of torch answer `torch.cuda.is_available()` and set `torch.version.hip`.
bf16 on a GPU that supports it (fp16 otherwise), fp32 on CPU: CPU bf16 matmuls are only fast with AMX, and fp32
keeps small-model runs exact and reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Device:
    type: str  # cuda | mps | cpu
    name: str  # for people: "cuda (NVIDIA H100, ROCm 6.2)", "cpu"
    dtype: object  # torch.dtype

    @property
    def torch(self):
        import torch

        return torch.device(self.type)

    @property
    def is_gpu(self) -> bool:
        return self.type != "cpu"


def detect(prefer: str | None = None) -> Device:
    """The best available device, or the one asked for ("cuda", "mps", "cpu")."""
    import torch

    want = (prefer or "").lower() or None
    if want not in (None, "cuda", "mps", "cpu"):
        raise ConfigError(f"unknown device {prefer!r}", "use cuda (also for ROCm), mps or cpu")
    if want in (None, "cuda") and torch.cuda.is_available():
        hip = getattr(torch.version, "hip", None)
        name = f"cuda ({torch.cuda.get_device_name(0)}{', ROCm ' + hip if hip else ''})"
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return Device("cuda", name, dtype)
    if want in (None, "mps") and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return Device("mps", "mps (Apple GPU)", torch.bfloat16)
    if want not in (None, "cpu"):
        raise ConfigError(f"device {want} was asked for but torch does not see one",
                          "drop the device option to train on what is there (the CPU)")
    return Device("cpu", "cpu", torch.float32)


def qlora_config(device: Device):
    """bitsandbytes 4-bit NF4 with double quantization, computing in the device's dtype (the QLoRA recipe)."""
    if device.type != "cuda":
        raise ConfigError(
            f"QLoRA needs a CUDA or ROCm GPU; this run is on {device.name}",
            "QLoRA only shrinks GPU memory (4-bit weights) and is slower than plain LoRA elsewhere: drop --qlora")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as e:
        raise ConfigError("QLoRA needs the bitsandbytes package, which is not installed",
                          "pip install bitsandbytes (on ROCm: the ROCm build of bitsandbytes), or drop --qlora") from e
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=device.dtype)


def peak_memory_bytes(device: Device) -> int:
    """Peak GPU memory allocated by torch on a GPU; the process's peak RSS on CPU."""
    import torch

    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated())
    if device.type == "mps":
        return int(torch.mps.driver_allocated_memory())
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # bytes on macOS, KiB on Linux
