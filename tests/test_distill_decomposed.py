"""The decomposed mode (distill/decomposed.py): offline candidates, a model's narrow enum-constrained choices."""

from __future__ import annotations

import json

from twinforge.backends.base import Request
from twinforge.backends.cache import Answer
from twinforge.distill.decomposed import DecomposedStrategy
from twinforge.distill.moves import classify
from twinforge.distill.render import Chunk, Dialog, Turn
from twinforge.distill.run import strategy_for
from twinforge.distill.taxonomy import names

TEXT = ("Что лучше: дообучать готовую модель адаптерами или учить маленькую с нуля? Гипотеза: если данных меньше "
        "миллиона строк, адаптеры выиграют. Адаптеры можно стыковать и выключать, а модель с нуля — нет. Ещё важны "
        "бюджет видеокарты, качество разметки, длина контекста и скорость обучения на домашнем компьютере.")
# (enough noun phrases that the model has more candidates than the five it keeps: with five or fewer there is
# nothing to choose, and no concepts call is made)


class Chooser:
    """Answers each narrow call with its schema's last enum option (a choice the offline ranking would not make)."""

    def __init__(self):
        self.requests: list[Request] = []

    def complete_many(self, requests):
        out = []
        for r in requests:
            self.requests.append(r)
            props = r.json_schema["properties"]
            answer = {}
            for name, spec in props.items():
                if spec.get("type") == "array":
                    answer[name] = [spec["items"]["enum"][-1]]
                else:
                    answer[name] = spec["enum"][-1]
            out.append(Answer("k", json.dumps(answer, ensure_ascii=False)))
        return out

def test_the_model_chooses_among_candidates_only():
    dialog = Dialog("c", "t", "ru", [Turn("u1", "user", TEXT)])
    chunk = Chunk(0, dialog.turns)
    s = DecomposedStrategy()
    model = Chooser()
    s.attach(model)
    first = s.request(dialog, chunk, 1)
    answer = model.complete_many([first])[0].text
    draft = s.draft(answer, dialog, chunk)
    # the offline classifier's move stands, so it is not asked (measured better on held-out gold dialogs)
    assert draft.meta_move == classify(chunk.user_text)
    asked = [next(iter(r.json_schema["properties"])) for r in model.requests]
    assert asked == ["concepts", "axis", "hypothesis"]  # the first is run.py's batched call, each asked once
    concepts_call = model.requests[0]
    options = concepts_call.json_schema["properties"]["concepts"]["items"]["enum"]
    assert draft.concepts[0] == options[-1] and set(draft.concepts) <= set(options)
    assert draft.phrase in TEXT and all(h in TEXT for h in draft.hypotheses)  # the person's words only


def test_without_a_model_answer_the_offline_choice_stays():
    dialog = Dialog("c", "t", "ru", [Turn("u1", "user", TEXT)])
    chunk = Chunk(0, dialog.turns)
    draft = DecomposedStrategy().draft("not json", dialog, chunk)  # nothing attached, a broken first answer
    assert draft.meta_move in names() and draft.concepts and draft.axes


def test_mode_picks_the_strategy():
    assert strategy_for("llamacpp", "decomposed").version.startswith("decomposed")
    assert strategy_for("openai", "auto").version.startswith("module")
    assert strategy_for("llamacpp", "auto").version.startswith("decomposed")  # the embedded model, measured
    assert strategy_for("llamacpp", "auto", embedded=False).version.startswith("module")
    assert strategy_for("extractive", "decomposed").version.startswith("extractive")
