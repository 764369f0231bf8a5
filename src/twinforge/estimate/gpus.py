"""Named hardware profiles for `twinforge estimate`, each number with where it comes from.

Peak figures are the vendors' dense (no 2:4 sparsity) matrix throughput in the precision training runs in: bf16
on GPUs, fp32 on CPUs (our trainer trains in fp32 on a CPU). MFU (model FLOPs utilization: the share of that
peak a real training step reaches) is an assumption, separately for LoRA fine-tuning on one box and for large
pretraining jobs; the sources are stated beside each. The profile `this` is not here: it is measured by a short
calibration run (train/calibrate.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Hardware:
    key: str
    name: str
    count: int  # devices in the box (8×H100 = 8)
    peak_tflops: float  # per device, dense, in `precision`
    precision: str  # what training runs in there: "bf16" or "fp32"
    memory_gb: float  # per device, decimal GB
    bandwidth_gbs: float  # per device memory bandwidth, GB/s
    mfu_lora: float  # assumed share of peak reached by LoRA fine-tuning
    mfu_pretrain: float  # assumed share of peak reached by large-scale pretraining
    usable_memory: float  # share of memory a training process can fill (runtime, allocator, OS take the rest)
    sources: str  # where the numbers come from
    mfu_note: str  # why these MFU values
    qlora: bool = True  # bitsandbytes 4-bit runs there

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def total_memory_gb(self) -> float:
        return self.memory_gb * self.count


_NV_MFU = ("LoRA ~0.35: small batches, frozen weights and LoRA's extra small matmuls keep fine-tuning well below "
           "pretraining efficiency (Unsloth-class kernels reach more, plain HF trainers less)")

PROFILES: dict[str, Hardware] = {p.key: p for p in [
    Hardware(
        key="rx7900xt", name="AMD Radeon RX 7900 XT (ROCm)", count=1, peak_tflops=103.0, precision="bf16",
        memory_gb=20.0, bandwidth_gbs=800.0, mfu_lora=0.15, mfu_pretrain=0.20, usable_memory=0.90,
        sources="AMD product page: 20 GB GDDR6, 800 GB/s, 'peak half precision 103 TFLOPS' (RDNA3 WMMA with "
                "dual issue; bf16 matrix rate equals fp16)",
        mfu_note="assumed 0.15, below the NVIDIA cards: the 103 TFLOPS paper figure counts dual-issue that GEMMs "
                 "seldom reach, and ROCm on RDNA3 (gfx1100) lacks mature fused-attention and 4-bit kernels",
    ),
    Hardware(
        key="rtx4090", name="NVIDIA GeForce RTX 4090", count=1, peak_tflops=165.2, precision="bf16",
        memory_gb=24.0, bandwidth_gbs=1008.0, mfu_lora=0.30, mfu_pretrain=0.35, usable_memory=0.92,
        sources="NVIDIA Ada Lovelace whitepaper (RTX 4090): bf16 tensor 165.2 TFLOPS dense with fp32 accumulate "
                "(330.4 sparse); 24 GB GDDR6X, 1008 GB/s",
        mfu_note="assumed 0.30 for LoRA: " + _NV_MFU,
    ),
    Hardware(
        key="a100-40", name="NVIDIA A100 40GB SXM", count=1, peak_tflops=312.0, precision="bf16",
        memory_gb=40.0, bandwidth_gbs=1555.0, mfu_lora=0.35, mfu_pretrain=0.50, usable_memory=0.92,
        sources="NVIDIA A100 datasheet: bf16 tensor 312 TFLOPS dense (624 sparse), 40 GB HBM2, 1555 GB/s",
        mfu_note="pretraining 0.50: Narayanan et al. 2021 (Megatron-LM, 3072 A100s) sustained 52% of peak; "
                 "LoRA " + _NV_MFU,
    ),
    Hardware(
        key="a100-80", name="NVIDIA A100 80GB SXM", count=1, peak_tflops=312.0, precision="bf16",
        memory_gb=80.0, bandwidth_gbs=2039.0, mfu_lora=0.35, mfu_pretrain=0.50, usable_memory=0.92,
        sources="NVIDIA A100 datasheet: bf16 tensor 312 TFLOPS dense (624 sparse), 80 GB HBM2e, 2039 GB/s (SXM)",
        mfu_note="pretraining 0.50: Narayanan et al. 2021 (Megatron-LM, 3072 A100s) sustained 52% of peak; "
                 "LoRA " + _NV_MFU,
    ),
    Hardware(
        key="h100", name="NVIDIA H100 SXM", count=1, peak_tflops=989.0, precision="bf16",
        memory_gb=80.0, bandwidth_gbs=3350.0, mfu_lora=0.30, mfu_pretrain=0.40, usable_memory=0.92,
        sources="NVIDIA H100 datasheet (SXM5): bf16 tensor 989 TFLOPS dense (1979 sparse), 80 GB HBM3, 3.35 TB/s",
        mfu_note="pretraining 0.40: Meta's Llama 3 paper reports 38-43% bf16 MFU on 8k-16k H100s; LoRA 0.30: "
                 "a small job leaves the faster tensor cores idler than on A100 (memory-bound elementwise work)",
    ),
    Hardware(
        key="8xh100", name="8× NVIDIA H100 SXM (one HGX node, NVLink)", count=8, peak_tflops=989.0,
        precision="bf16", memory_gb=80.0, bandwidth_gbs=3350.0, mfu_lora=0.27, mfu_pretrain=0.40,
        usable_memory=0.92,
        sources="NVIDIA H100 datasheet (SXM5) per GPU: 989 TFLOPS bf16 dense, 80 GB HBM3, 3.35 TB/s; "
                "NVLink 4 at 900 GB/s between the 8 GPUs",
        mfu_note="LoRA 0.27 = single-H100 0.30 × 0.9 data-parallel scaling (gradient all-reduce of a small "
                 "adapter over NVLink costs little); each GPU holds the whole base model (DDP)",
    ),
    Hardware(
        key="ryzen9", name="Home PC CPU: AMD Ryzen 9 (16 cores, Zen 4 assumed), 132 GB RAM", count=1,
        peak_tflops=2.56, precision="fp32", memory_gb=132.0, bandwidth_gbs=83.2, mfu_lora=0.15, mfu_pretrain=0.15,
        usable_memory=0.85, qlora=True,
        sources="assumed Ryzen 9 7950X: 16 cores × ~5.0 GHz all-core × 32 fp32 FLOP/cycle (two 256-bit FMA pipes; "
                "AVX-512 is double-pumped) = 2.56 TFLOPS fp32; RAM as the user stated (132 GB); DDR5-5200 dual "
                "channel = 83.2 GB/s",
        mfu_note="assumed 0.15: PyTorch CPU training reaches a small share of fp32 peak (small matmuls, memory-bound "
                 "elementwise work); run `twinforge estimate --calibrate` on the home PC to measure instead",
    ),
]}

ALIASES = {"7900xt": "rx7900xt", "rx-7900-xt": "rx7900xt", "4090": "rtx4090", "a100": "a100-80",
           "a100-80gb": "a100-80", "a100-40gb": "a100-40", "h100-sxm": "h100", "8h100": "8xh100",
           "8x-h100": "8xh100", "cpu": "ryzen9", "home-cpu": "ryzen9", "ryzen": "ryzen9"}

THIS = "this"  # the calibrated machine this command runs on


def profile(key: str) -> Hardware:
    """A named profile (not `this`, which calibration builds)."""
    k = key.strip().lower()
    k = ALIASES.get(k, k)
    if k not in PROFILES:
        raise ConfigError(f"unknown hardware {key!r}",
                          f"choose one of: {', '.join([*PROFILES, THIS])}")
    return PROFILES[k]
