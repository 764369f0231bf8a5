"""The chat template a base model without one is given, and the prompt text a chat renders to: the same for
training, evaluation and generation."""

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


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The prompt, ending where the assistant's answer starts: the tokenizer's chat template when it has one, else
    plain "role: content" blocks ending in "assistant:" (as the transformers backend prompts a base model)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages]
    return "\n\n".join(lines) + "\n\nassistant:"
