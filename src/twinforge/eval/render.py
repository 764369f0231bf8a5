"""An example → the text perplexity scores, rendered as generation renders prompts (`models.chat.prompt_text`).
The trainer renders examples with the same chat template (train/data.py), so the evaluation scores exactly the
format the adapter was trained on.
"""

from __future__ import annotations

from ..models.chat import prompt_text


def example_texts(tokenizer, messages: list[dict]) -> tuple[str, str]:
    """(prompt, answer) of an example whose last message is the assistant's: the answer is scored given the prompt."""
    prompt = prompt_text(tokenizer, messages[:-1])
    answer = messages[-1]["content"]
    if getattr(tokenizer, "chat_template", None):
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if full.startswith(prompt):
            return prompt, full[len(prompt):]  # with the end-of-turn marker the template adds
    return prompt, " " + answer
