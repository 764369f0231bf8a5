"""Cross-entropy through the output layer, only where there are labels, one chunk of rows at a time.

Small models have huge vocabularies next to their width (Gemma 3 270M: 262,144 × 640, more multiply-adds per
token than all 18 layers together), and the usual `logits = lm_head(hidden)` for every position builds a
[tokens × vocab] fp32 tensor (1 GB for 1,024 tokens) and its gradient. Here logits are made only for the
positions the loss sees (assistant tokens), a chunk at a time, and the gradient with respect to the hidden states
is computed in the same pass, so no logits outlive their chunk and nothing is recomputed in backward. The output
weight is frozen (LoRA does not train it), so no weight gradient is needed; when it is trainable, the plain
path runs instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CHUNK_ELEMENTS = 1 << 25  # logits per chunk: 128 rows of a 262k vocabulary, 128 MB in fp32


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, targets, softcap):
        n = hidden.shape[0]
        rows = max(1, CHUNK_ELEMENTS // weight.shape[0])
        want_grad = ctx.needs_input_grad[0]
        grad = torch.empty_like(hidden) if want_grad else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for s in range(0, n, rows):
            h, t = hidden[s:s + rows], targets[s:s + rows]
            logits = (h @ weight.T).float()
            if softcap:
                tanh = torch.tanh(logits / softcap)
                logits = tanh * softcap
            lse = torch.logsumexp(logits, dim=-1)
            idx = torch.arange(len(t), device=t.device)
            total += (lse - logits[idx, t]).sum()
            if want_grad:
                probs = logits.sub_(lse[:, None]).exp_()  # softmax in place of the logits
                probs[idx, t] -= 1
                if softcap:
                    probs *= 1 - tanh.square_()  # d(cap·tanh(z/cap))/dz
                grad[s:s + rows] = (probs.to(weight.dtype) @ weight).to(hidden.dtype)
        if want_grad:
            ctx.save_for_backward(grad)
        ctx.n = n
        return total / max(n, 1)

    @staticmethod
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        return grad * (grad_out / max(ctx.n, 1)), None, None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         softcap: float | None = None) -> torch.Tensor:
    """Mean cross-entropy of `hidden @ weight.T` (optionally soft-capped) against `targets`; hidden is [N, H]."""
    if weight.requires_grad:
        logits = (hidden @ weight.T).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        return F.cross_entropy(logits, targets)
    return _LinearCrossEntropy.apply(hidden, weight, targets, softcap)
