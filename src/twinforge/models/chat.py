"""The chat template a base model without one is given, the same for training, evaluation and generation."""

from __future__ import annotations

# For base models that ship no chat template (the embedded Gemma 3 base): "role: content" turns as the
# transformers backend prompts them, each assistant turn closed by the EOS token so the model learns to stop.
PLAIN_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if not loop.first %}{{ '\\n\\n' }}{% endif %}"
    "{{ m['role'] }}: {{ m['content'] }}{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '\\n\\nassistant:' }}{% endif %}"
)


def ensure_chat_template(tokenizer) -> str:
    """Give a tokenizer without a chat template the plain one. Returns which it uses: "model" or "plain"."""
    if getattr(tokenizer, "chat_template", None):
        return "model"
    tokenizer.chat_template = PLAIN_TEMPLATE
    return "plain"
