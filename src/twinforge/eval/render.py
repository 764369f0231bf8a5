"""Chat messages → the text a model sees, the same way for generation and for perplexity.

The tokenizer's chat template when it has one; else plain "role: content" blocks ending in "assistant:", as the
transformers backend prompts a base model without a template. The trainer renders examples with the same chat
template (train/data.py), so the evaluation scores exactly the format the adapter was trained on.
"""

from __future__ import annotations


def prompt_text(tokenizer, messages: list[dict]) -> str:
    """The prompt, ending where the assistant's answer starts."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages]
    return "\n\n".join(lines) + "\n\nassistant:"


def example_texts(tokenizer, messages: list[dict]) -> tuple[str, str]:
    """(prompt, answer) of an example whose last message is the assistant's: the answer is scored given the prompt."""
    prompt = prompt_text(tokenizer, messages[:-1])
    answer = messages[-1]["content"]
    if getattr(tokenizer, "chat_template", None):
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if full.startswith(prompt):
            return prompt, full[len(prompt):]  # with the end-of-turn marker the template adds
    return prompt, " " + answer
