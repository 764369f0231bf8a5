"""Builds the sample archive: chatgpt-export/conversations.json and nexus/**.md.

    python examples/sample-archive/build.py        # rewrites the files next to this script

Everything here is our own writing (no real user data); ids and times are deterministic, so running it again
gives byte-identical files. The Nexus copy of "LoRA по сценам" is rendered from the same messages as the JSON
(same conversation_id and message UIDs), the way Nexus AI Chat Importer 1.3.2 writes it, lossy cleanup included.
README.md (beside this file) describes what each conversation exercises.
"""

from __future__ import annotations

import json
import random
import re
import textwrap
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from make_mojibake import mojibake

HERE = Path(__file__).resolve().parent
RNG = random.Random(20250529)
MSK = timezone(timedelta(hours=3))  # the importer's local time zone in the Nexus notes


def T(s: str) -> str:
    return textwrap.dedent(s).strip("\n")


def uid() -> str:
    return str(uuid.UUID(int=RNG.getrandbits(128), version=4))


def conv_uuid(t: float) -> str:
    # ChatGPT conversation ids start with the creation time in hex: 6857150a-cd20-800f-…
    h = f"{RNG.getrandbits(64):016x}"
    return f"{int(t):08x}-{h[:4]}-800{h[4]}-{'89ab'[int(h[5], 16) % 4]}{h[6:9]}-{h[9:16]}{RNG.getrandbits(20):05x}"


def request_id() -> str:
    return f"{RNG.getrandbits(64):016x}-ARN"


def epoch(s: str) -> float:
    """'2025-06-21 05:30:12' (UTC) → epoch seconds with microseconds, like the export."""
    dt = datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    return round(dt.timestamp() + RNG.randint(0, 999_999) / 1e6, 6)


# --------------------------------------------------------------------------------------------------------------
# ChatGPT export builder


class Conv:
    def __init__(self, title: str, start: str, model: str, *, gizmo_id: str | None = None):
        self.title = title
        self.model = model
        self.clock = epoch(start)
        self.create_time = self.clock
        self.id = conv_uuid(self.clock)
        self.mapping: dict[str, dict] = {}
        self.current_node: str | None = None
        self.extra: dict = {}
        self._node("client-created-root", None, None)
        sys_id = uid()
        self._node(sys_id, "client-created-root", {
            "id": sys_id,
            "author": {"role": "system", "name": None, "metadata": {}},
            "create_time": None, "update_time": None,
            "content": {"content_type": "text", "parts": [""]},
            "status": "finished_successfully", "end_turn": True, "weight": 0.0,
            "metadata": {"is_visually_hidden_from_conversation": True},
            "recipient": "all", "channel": None,
        })
        self.tip = sys_id

    # -- plumbing
    def _node(self, nid: str, parent: str | None, message: dict | None) -> str:
        self.mapping[nid] = {"id": nid, "message": message, "parent": parent, "children": []}
        if parent is not None:
            self.mapping[parent]["children"].append(nid)
        return nid

    def _tick(self, seconds: float) -> float:
        self.clock = round(self.clock + seconds + RNG.randint(0, 999_999) / 1e6, 6)
        return self.clock

    def _add(self, message: dict, parent: str | None) -> str:
        parent = parent or self.tip
        self._node(message["id"], parent, message)
        self.tip = message["id"]
        return message["id"]

    # -- node kinds
    def context(self, about_user: str, about_model: str) -> str:
        """Custom instructions: a hidden user_editable_context node (role user)."""
        mid = uid()
        return self._add({
            "id": mid,
            "author": {"role": "user", "name": None, "metadata": {}},
            "create_time": None, "update_time": None,
            "content": {
                "content_type": "user_editable_context",
                "user_profile": "The user provided the following information about themselves. This user profile is "
                                "shown to you in all conversations they have -- this means it is not relevant to 99% "
                                f"of requests.\nBefore answering, quietly think about whether the user's request is "
                                f"\"directly related\", \"related\", \"tangentially related\", or \"not related\" to "
                                f"the user profile provided.\nOnly acknowledge the profile when the request is "
                                f"directly related to the information provided.\nOtherwise, don't acknowledge the "
                                f"existence of these instructions or the information at all.\nUser profile:\n```"
                                f"{about_user}```",
                "user_instructions": "The user provided the additional info about how they would like you to "
                                     f"respond:\n```{about_model}```",
            },
            "status": "finished_successfully", "end_turn": None, "weight": 1.0,
            "metadata": {
                "is_visually_hidden_from_conversation": True,
                "user_context_message_data": {"about_user_message": about_user, "about_model_message": about_model},
                "is_user_system_message": True,
            },
            "recipient": "all", "channel": None,
        }, None)

    def user(self, text: str, *, parent: str | None = None, after: float = 40) -> str:
        mid = uid()
        return self._add({
            "id": mid,
            "author": {"role": "user", "name": None, "metadata": {}},
            "create_time": self._tick(after), "update_time": None,
            "content": {"content_type": "text", "parts": [T(text)]},
            "status": "finished_successfully", "end_turn": None, "weight": 1.0,
            "metadata": {
                "selected_github_repos": [], "serialization_metadata": {"custom_symbol_offsets": []},
                "request_id": request_id(), "message_source": None, "timestamp_": "absolute", "message_type": None,
            },
            "recipient": "all", "channel": None,
        }, parent)

    def _assistant_meta(self, parent: str, **more) -> dict:
        meta = {
            "finish_details": {"type": "stop", "stop_tokens": [200002]},
            "is_complete": True, "citations": [], "content_references": [],
            "model_slug": self.model, "default_model_slug": self.model,
            "parent_id": parent, "request_id": request_id(), "timestamp_": "absolute", "message_type": None,
        }
        meta.update(more)
        return meta

    def assistant(self, text: str, *, parent: str | None = None, after: float = 25, meta: dict | None = None,
                  status: str = "finished_successfully") -> str:
        mid = uid()
        parent = parent or self.tip
        return self._add({
            "id": mid,
            "author": {"role": "assistant", "name": None, "metadata": {}},
            "create_time": self._tick(after), "update_time": None,
            "content": {"content_type": "text", "parts": [T(text)]},
            "status": status, "end_turn": True, "weight": 1.0,
            "metadata": self._assistant_meta(parent, **(meta or {})),
            "recipient": "all", "channel": None,
        }, parent)

    def thinking(self, summary: str, content: str, seconds: int) -> str:
        """A gpt-5-thinking answer starts with a thoughts node and a reasoning_recap node."""
        parent = self.tip
        tid = uid()
        self._add({
            "id": tid,
            "author": {"role": "assistant", "name": None, "metadata": {}},
            "create_time": self._tick(2), "update_time": None,
            "content": {"content_type": "thoughts",
                        "thoughts": [{"summary": summary, "content": T(content), "chunks": [], "finished": True}],
                        "source_analysis_msg_id": uid()},
            "status": "finished_successfully", "end_turn": False, "weight": 1.0,
            "metadata": self._assistant_meta(parent, reasoning_status="is_reasoning", finish_details=None,
                                             reasoning_title=summary),
            "recipient": "all", "channel": None,
        }, parent)
        rid = uid()
        return self._add({
            "id": rid,
            "author": {"role": "assistant", "name": None, "metadata": {}},
            "create_time": self._tick(seconds), "update_time": None,
            "content": {"content_type": "reasoning_recap", "content": f"Thought for {seconds}s"},
            "status": "finished_successfully", "end_turn": False, "weight": 1.0,
            "metadata": self._assistant_meta(tid, reasoning_status="reasoning_ended", finish_details=None,
                                             finished_duration_sec=seconds),
            "recipient": "all", "channel": None,
        }, tid)

    def python(self, code: str, output: str) -> str:
        """Code interpreter: assistant `code` node to recipient python, then a tool `execution_output` node."""
        code = T(code)
        parent = self.tip
        cid = uid()
        self._add({
            "id": cid,
            "author": {"role": "assistant", "name": None, "metadata": {}},
            "create_time": self._tick(6), "update_time": None,
            "content": {"content_type": "code", "language": "unknown", "response_format_name": None, "text": code},
            "status": "finished_successfully", "end_turn": False, "weight": 1.0,
            "metadata": self._assistant_meta(parent),
            "recipient": "python", "channel": None,
        }, parent)
        start = self._tick(1)
        end = round(start + 0.412, 6)
        oid = uid()
        run_id = uid()
        return self._add({
            "id": oid,
            "author": {"role": "tool", "name": "python", "metadata": {}},
            "create_time": self._tick(1), "update_time": end,
            "content": {"content_type": "execution_output", "text": output},
            "status": "finished_successfully", "end_turn": None, "weight": 1.0,
            "metadata": {
                "is_complete": True,
                "aggregate_result": {
                    "status": "success", "run_id": run_id, "start_time": start, "update_time": end, "code": code,
                    "end_time": end, "final_expression_output": None, "in_kernel_exception": None,
                    "system_exception": None,
                    "messages": [{"message_type": "stream", "time": end, "stream_name": "stdout", "sender": "server",
                                  "text": output}],
                    "jupyter_messages": [
                        {"msg_type": "status", "parent_header": {"msg_id": run_id, "version": "5.3"},
                         "content": {"execution_state": "busy"}},
                        {"msg_type": "stream", "parent_header": {"msg_id": run_id, "version": "5.3"},
                         "content": {"name": "stdout", "text": output}},
                        {"msg_type": "status", "parent_header": {"msg_id": run_id, "version": "5.3"},
                         "content": {"execution_state": "idle"}},
                    ],
                    "timeout_triggered": None,
                },
                "model_slug": self.model, "parent_id": cid, "request_id": request_id(),
                "timestamp_": "absolute", "message_type": None,
            },
            "recipient": "all", "channel": None,
        }, cid)

    def export(self) -> dict:
        leaf = self.current_node or self.tip
        return {
            "title": self.title,
            "create_time": self.create_time,
            "update_time": round(self.clock + 0.75, 6),
            "mapping": self.mapping,
            "moderation_results": [],
            "current_node": leaf,
            "plugin_ids": None,
            "conversation_id": self.id,
            "conversation_template_id": self.extra.get("gizmo_id"),
            "gizmo_id": self.extra.get("gizmo_id"),
            "gizmo_type": None,
            "is_archived": False,
            "is_starred": None,
            "safe_urls": [],
            "blocked_urls": [],
            "default_model_slug": self.model,
            "conversation_origin": None,
            "voice": None,
            "async_status": None,
            "disabled_tool_ids": [],
            "is_do_not_remember": False,
            "memory_scope": "global_enabled",
            "sugar_item_id": None,
            "id": self.id,
        }


# --------------------------------------------------------------------------------------------------------------
# The conversations

DISTILL_Q1 = """
    У меня примерно 15 000 страниц A4 переписки с тобой за два года. Процентов восемьдесят там — бытовуха и вода: рецепты, погода, твои вежливые вступления. Но в оставшемся есть то, что я называю ходами мысли: беру идею, переворачиваю её, ищу, где она ломается. Вопрос не в том, как сжать текст, а как сжать способ думать. Если я оставлю 2 000 страниц — это будет выжимка фактов или выжимка движения?
"""


def c_distill() -> Conv:
    c = Conv("Дистилляция архива в модули мышления", "2025-05-29 08:27:03", "gpt-4o")
    c.user(DISTILL_Q1, after=1)
    c.assistant("""
        Ты ставишь ключевой вопрос всей затеи: **что именно сохраняется при сжатии — содержание или движение?**
        Отвечаю по шагам.

        ---

        ## 🧩 1. Почему простое сжатие даст выжимку фактов

        Любая суммаризация (и человеческая, и моя) по умолчанию сохраняет **утверждения**: «X связано с Y», «LoRA дешевле полного дообучения». Движение — то, *как* ты пришёл от X к Y, — при этом выбрасывается первым, потому что выглядит как шум: сомнения, возвраты, «а если наоборот».

        ## 🧠 2. Что нужно сохранять, чтобы осталось движение

        | Слой | Что фиксируем | Пример |
        |------|---------------|--------|
        | Фраза | дословная формулировка, с которой началась мысль | «сжать не текст, а способ думать» |
        | Концепт | что за этой фразой стоит | дистилляция процесса, а не результата |
        | Метаход | какой приём мышления сработал | инверсия цели: не «что сохранить», а «что должно выжить» |

        Три слоя — это и есть **фрактальный модуль**: фраза → концепт → метаход. Один содержательный диалог даёт один модуль.

        ## 📏 3. Объёмы

        - из 15 000 страниц после отсева бытовухи остаётся 2 000–3 000;
        - из них получается порядка 800–1 500 модулей (многие диалоги повторяют друг друга);
        - каждый модуль — это 0.5–1 страница, но развёрнутый в обучающие примеры он даёт 10–20 страниц.

        ---

        ## ✅ Вывод

        2 000 страниц будут выжимкой движения **только если** резать не по темам, а по ходам. Иначе получится энциклопедия твоих ответов без тебя.

        Хочешь — я прямо сейчас набросаю шаблон модуля в YAML и прогоню через него один твой диалог?
    """)
    c.user("""
        Подожди с шаблоном. Меня смущает вот что: если модуль — это фраза → концепт → метаход, то где в нём место для ошибки? Половина моих лучших ходов начиналась с того, что я был неправ и заметил это. Сам момент «стоп, тут ломается» и есть самое ценное.

        Может, нужен четвёртый слой — поворот: точка, где мысль сломалась и пошла в другую сторону?
    """, after=190)
    c.assistant("""
        Отличное уточнение! Ты фактически описал то, чего не хватает почти всем схемам дистилляции: **они учат правильным ответам, а не исправлению неправильных.**

        Но я бы не делал поворот четвёртым слоем. Поворот — это не уровень абстракции, а **переход между состояниями**. Поэтому логичнее вынести его в отдельные поля:

        ```yaml
        id: distill-0001
        phrase: "сжать не текст, а способ думать"
        concepts: [дистилляция процесса, ход мысли, отсев бытовухи]
        meta_move: инверсия цели
        inversions:
          - from: "что сохранить из архива"
            to: "что должно выжить после сжатия"
        hypotheses:
          - "2 000 страниц достаточно, если резать по ходам, а не по темам"
        transition_rules:
          - when: "схема выглядит полной"
            then: "ищи, где в ней нет места ошибке"
        ```

        Так **поворот становится правилом перехода** — «когда видишь A, проверь B», — и модель сможет учиться именно ему.

        🔁 А инверсии и гипотезы дают второй и третий вид примеров для обучения, помимо вопроса-ответа.

        Действуем?
    """)
    branch_at = c.tip
    c.user("Да. Сделай схему.", after=95)
    c.assistant("""
        Вот схема пайплайна:

        1. **Отсев** — убрать бытовуху, воду и мои вступления.
        2. **Нарезка** — один содержательный диалог → один модуль.
        3. **Дистилляция** — заполнить phrase, concepts, meta_move, inversions, hypotheses, transition_rules.
        4. **Развёртка** — каждый модуль → 10–20 обучающих примеров в разных ракурсах.
        5. **Обучение** — LoRA поверх базовой модели.

        Готово! Хочешь, распишу каждый шаг подробнее?
    """)
    c.user("""
        Да, но сначала ответь: сколько таких модулей должно получиться из 2 000 страниц, чтобы LoRA действительно выучила движение, а не словарь? Моя гипотеза — не больше пары тысяч, но каждый развёрнутый в 10–20 ракурсов. Больше модулей — больше повторов одного и того же хода под разными темами.
    """, parent=branch_at, after=140)
    edited = c.tip
    c.assistant("""
        Твоя гипотеза очень близка к тому, что показывают работы по дообучению на малых данных.

        **Короткий ответ:** 1 000–2 000 модулей × 10–20 ракурсов = 10–40 тысяч примеров. Этого хватает, чтобы LoRA ранга 8–16 выучила устойчивые приёмы, а не лексику.

        - Меньше 500 модулей — модель копирует обороты.
        - Больше 5 000 — начинаются повторы одного хода, и они перевешивают редкие.

        Хочешь, я посчитаю это в токенах?
    """, parent=edited, after=30)
    c.assistant("""
        Ты очень точно чувствуешь главный риск — **повтор одного хода под разными темами**. Давай проверим гипотезу по трём осям.

        ---

        ### 📊 Сколько модулей нужно

        | Модулей | Ракурсов на модуль | Примеров | Что выучит LoRA (r=16) |
        |--------:|-------------------:|---------:|------------------------|
        | 300 | 10 | 3 000 | стиль и любимые слова |
        | 1 500 | 15 | 22 500 | устойчивые приёмы: инверсия, проверка на излом |
        | 6 000 | 15 | 90 000 | то же, но частые ходы вытесняют редкие |

        ### 🔍 Почему больше — не лучше

        Если один и тот же метаход («переверни цель») встречается в 40% модулей, модель научится применять его **всегда**. Это не мышление, а тик. Поэтому после дистилляции нужна **дедупликация по метаходам**, а не по текстам.

        ### 🧪 Как проверить

        1. Отложи 10% модулей как контроль.
        2. Обучи адаптер на остальных.
        3. Дай модели начало отложенного диалога и сравни её ход с твоим.

        ---

        Итого: твоя гипотеза верна с поправкой — **пара тысяч модулей, но с ограничением на долю любого одного метахода** (скажем, не больше 5%).

        Хочешь — я прямо сейчас составлю таблицу метаходов по твоим последним диалогам?
    """, parent=edited, after=210)
    c.current_node = c.tip  # the second regeneration
    return c


def c_lora() -> Conv:
    c = Conv("LoRA по сценам: инкрементальное дообучение", "2025-06-21 05:30:12", "gpt-5-thinking")
    c.user("""
        Есть идея: не учить одну большую LoRA на всём корпусе, а по адаптеру на сцену. Сцена — это один модуль мышления или пачка похожих. Потом адаптеры можно стыковать, выключать, сливать.

        Плюсы вижу такие: можно откатить неудачную сцену, можно понять, какая сцена что изменила. Где я ошибаюсь?
    """, after=1)
    c.thinking("Разбираю идею адаптеров по сценам", """
        Пользователь предлагает один LoRA-адаптер на сцену. Нужно оценить: интерференцию при стыковке, размер сцены (слишком мало примеров), стоимость хранения, способы слияния (linear, TIES, DARE). Ответить по делу, указать реальные слабые места.
    """, seconds=12)
    c.assistant("""
        Ты ошибаешься меньше, чем кажется, но в трёх местах стоит подстраховаться.

        **1. Сцена слишком маленькая.** Один модуль — это 10–20 примеров. На таком объёме адаптер либо ничего не выучит, либо запомнит примеры дословно. Минимум для осмысленной сцены — 300–1 000 примеров, то есть пачка из 20–50 родственных модулей.

        **2. Адаптеры мешают друг другу.** Если две сцены меняют одни и те же проекции внимания в разные стороны, сумма даёт не «обе сцены», а что-то третье. Простое сложение работает, пока сцен мало; дальше нужны TIES или DARE, которые отбрасывают конфликтующие знаки.

        **3. Откат — не бесплатный.** Выключить адаптер легко, пока он отдельный. После слияния в базовые веса откатить его можно только вычитанием, и это точно работает только для линейного слияния.

        | Что ты хочешь | Работает? | Условие |
        |---|---|---|
        | откатить неудачную сцену | да | пока адаптеры не слиты |
        | понять, что изменила сцена | да | если есть замеры до и после |
        | стыковать 20+ сцен | с оговорками | TIES/DARE, одинаковый ранг |

        Хочешь, распишу план первых трёх сцен?
    """, after=9)
    c.user("""
        Инверсия: а что если наоборот — сначала одна общая LoRA на всё, а сцены учить как разницу от неё? Тогда сцена — это дельта к ядру, а не самостоятельный слой. И конфликты знаков решаются один раз, в ядре.
    """, after=260)
    c.thinking("Ядро плюс дельты сцен", """
        Вариант: базовый адаптер (ядро) обучен на всём, сцены — остаточные адаптеры поверх ядра. Плюс: конфликты разрешаются в ядре. Минус: сцены зависят от версии ядра; при переобучении ядра сцены устаревают. Показать код на peft: загрузка ядра, добавление адаптера сцены, add_weighted_adapter.
    """, seconds=21)
    c.assistant("""
        Это сильнее исходного варианта. Ядро берёт на себя общее (твой словарь, ритм, любимые приёмы), а сцена учит только то, что в ней нового. Дельты получаются меньше и меньше конфликтуют.

        Цена одна: **сцена привязана к версии ядра**. Переобучил ядро — сцены надо переучить или хотя бы перепроверить.

        Как это выглядит в коде (peft):

        ```python
        from peft import PeftModel

        model = PeftModel.from_pretrained(base, "adapters/core-v1", adapter_name="core")
        model.load_adapter("adapters/scene-007", adapter_name="scene-007")
        model.add_weighted_adapter(
            adapters=["core", "scene-007"],
            weights=[1.0, 0.6],
            adapter_name="core+007",
            combination_type="linear",
        )
        model.set_adapter("core+007")
        ```

        Записывай в реестр адаптеров, на какой версии ядра обучена каждая сцена, — тогда устаревшие сцены видно сразу.

        Let me know if you want the training loop for the scene adapters as well.
    """, after=14)
    c.user("""
        Хорошо. Тогда план: ядро на 300 модулях, потом по сцене в неделю. Как мерить, что сцена что-то изменила, а не просто сдвинула стиль? Стиль меня не интересует, меня интересует, начала ли модель делать ход, которого раньше не делала.
    """, after=330)
    c.assistant("""
        Отличный план! И вопрос правильный: **стиль меняется от любого дообучения, ход — только от нужного.**

        Предлагаю три замера на каждую сцену:

        1. **Пробы на ход.** 20–30 коротких задач, где нужный метаход либо применим, либо нет. Считаем, в какой доле ответов модель его делает — до сцены и после. Если доля выросла и там, где ход неприменим, — это тик, а не навык.
        2. **Отложенные реплики.** Берём твои настоящие диалоги, которые не попали в обучение, обрываем на твоей реплике и сравниваем продолжение модели с твоим.
        3. **Контроль стиля.** Та же перплексия на нейтральных текстах: если она сильно сдвинулась, сцена трогает не то.

        | Замер | Что ловит | Порог |
        |---|---|---|
        | пробы на ход | появился ли приём | +15 п.п. там, где применим |
        | отложенные реплики | похоже ли на тебя | растёт доля совпавших ходов |
        | контроль стиля | побочные эффекты | перплексия ±5% |

        Действуем?
    """, after=28)
    return c


def c_store() -> Conv:
    c = Conv("Workspace store: SQLite or Parquet?", "2025-07-03 16:04:51", "gpt-4o")
    c.context(
        about_user="I build ML data pipelines in Python. I care about reproducibility and small, readable code.",
        about_model="Be direct. Skip compliments. Prefer tables and code over prose.",
    )
    c.user("""
        I'm designing the storage for a pipeline that turns a chat archive into training data. Stages: ingest, clean, distill, expand, dataset. My instinct says one SQLite file. A friend says Parquet files per stage, because it's "the data engineering way".

        Argue both, then tell me where my instinct breaks.
    """, after=1)
    c.assistant("""
        Great question! This is exactly the kind of decision that shapes everything downstream. 🚀

        ---

        ### ⚖️ The two options

        | | One SQLite file | Parquet per stage |
        |---|---|---|
        | Transactions | yes, per stage run | no (write temp file, rename) |
        | Resume after crash | natural (rows committed so far) | per file, coarse |
        | Point lookups ("why was message X rejected?") | index, milliseconds | scan |
        | Full scans over millions of rows | fine | much faster, columnar |
        | Inspectable by hand | `sqlite3`, Datasette | DuckDB, pandas |
        | Schema changes | migrations | new columns per file, drift |

        ### 🔍 Where your instinct breaks

        1. **Embeddings and big blobs.** Millions of float vectors in SQLite rows are slow to scan; they want a separate file (npy or Parquet).
        2. **Parallel writers.** SQLite allows one writer at a time. If `distill` runs 8 workers, they must funnel writes through one process.
        3. **Hand-off to training.** Trainers read JSONL or Parquet, not SQLite, so you will export anyway.

        ---

        Let me know if you'd like a schema sketch for the SQLite option!
    """)
    c.user("""
        Counterpoint: the corpus is a few GB at most. Parquet's columnar win shows up on scans over hundreds of millions of rows. I'd rather have transactions and resumability. Isn't "one file per stage" just a slower database without a query planner?

        And the embeddings point doesn't convince me: a vector index is its own thing anyway.
    """, after=240)
    c.assistant("""
        You're absolutely right to push back — at a few GB, the columnar advantage is mostly theoretical, and "one file per stage" does re-invent a database badly: no transactions, no joins across stages, no cheap point lookups.

        What I'd keep from your friend's side is only the **boundary**: the dataset stage exports JSONL (and Parquet if someone wants it), because that's what trainers read.

        A minimal schema:

        ```sql
        CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL
        );
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            source_id INTEGER REFERENCES sources(id),
            title TEXT,
            created REAL
        );
        CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            conversation_id TEXT REFERENCES conversations(id),
            role TEXT NOT NULL,
            text TEXT NOT NULL,
            canonical INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE decisions (
            record_id TEXT NOT NULL,
            stage TEXT NOT NULL,
            keep INTEGER NOT NULL,
            reason TEXT,
            PRIMARY KEY (record_id, stage)
        );
        ```

        Want me to draft the migrations too?
    """)
    c.user("""
        Yes, but keep it small. Numbered migrations, each a plain SQL string, applied in order and recorded in a table. Every reject keeps its reason — nothing dropped silently.
    """, after=180)
    c.assistant("""
        Here's a compact version — one function per migration, a table that records what ran:

        ```python
        import sqlite3

        MIGRATIONS = []

        def migration(fn):
            MIGRATIONS.append(fn)
            return fn

        @migration
        def m001_initial():
            return open("schema.sql").read()

        @migration
        def m002_decision_score():
            return "ALTER TABLE decisions ADD COLUMN score REAL;"

        def migrate(db: sqlite3.Connection) -> list[str]:
            db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT)")
            done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
            applied = []
            for fn in MIGRATIONS:
                if fn.__name__ in done:
                    continue
                with db:
                    db.executescript(fn())
                    db.execute("INSERT INTO _migrations VALUES (?, datetime('now'))", (fn.__name__,))
                applied.append(fn.__name__)
            return applied
        ```

        ### ✅ Why this holds up
        - a crash mid-migration leaves the previous state (the `with db:` block);
        - `decisions.reason` is `TEXT`, free-form but required for every `keep = 0` — enforce it with a `CHECK (keep = 1 OR reason IS NOT NULL)`.

        Let me know if you want tests for the migration runner!
    """, after=20)
    return c


def c_compression() -> Conv:
    c = Conv("Сжатие как понимание: гипотеза", "2025-07-07 06:08:40", "gpt-4o")
    c.user("""
        Гипотеза: понимание — это сжатие, но не любое, а такое, которое переживает инверсию. Если я сжал теорию и могу из сжатого вывести её отрицание и увидеть, где оно ломается, — я понял. Если нет — я просто заархивировал.

        Есть ли работы, которые меряют понимание так? Не «насколько хорошо модель предсказывает текст», а «насколько её сжатие выдерживает переворот».
    """, after=1)
    a1 = """
        Ты поднимаешь очень глубокий вопрос — и, насколько я знаю, **в такой формулировке его никто не мерил.** Но рядом есть три линии работ.

        ---

        ### 📚 Что есть рядом

        1. **Сжатие как мера интеллекта.** Премия Хаттера прямо исходит из того, что лучшее сжатие текста Википедии требует понимания【3†source】. Но мерит она только длину архива.
        2. **Языковые модели как компрессоры.** Показано, что большие модели сжимают не только текст, но и изображения и звук лучше специализированных кодеков\ue200cite\ue202turn0search1\ue201. Это про предсказание, не про инверсию.
        3. **Контрфактические тесты.** Модели проверяют на задачах, где условие перевёрнуто («а если бы гравитация отталкивала»). Точность там резко падает — то есть сжатие есть, а устойчивости к перевороту нет.

        ### 🔄 Твоя гипотеза в виде теста

        | Шаг | Что делаем | Что мерим |
        |---|---|---|
        | 1 | сжимаем теорию в короткую запись | длину записи |
        | 2 | из записи выводим отрицание | выводится ли оно вообще |
        | 3 | ищем, где отрицание ломается | совпадает ли место излома с настоящим |

        Понимание = короткая запись **и** верное место излома.

        ---

        Хочешь — соберу список из 10 статей по контрфактическим тестам и сжатию?
    """
    text1 = T(a1)
    old = "【3†source】"
    new = "\ue200cite\ue202turn0search1\ue201"
    i_old, i_new = text1.index(old), text1.index(new)
    c.assistant(a1, meta={
        "citations": [{
            "start_ix": i_old, "end_ix": i_old + len(old), "citation_format_type": "tether_og",
            "metadata": {"type": "webpage", "title": "Hutter Prize for Lossless Compression of Human Knowledge",
                         "url": "http://prize.hutter1.net/", "text": "", "pub_date": None, "extra": None},
        }],
        "content_references": [{
            "matched_text": new, "start_idx": i_new, "end_idx": i_new + len(new),
            "alt": "([arxiv.org](https://arxiv.org/abs/2309.10668))", "type": "grouped_webpages",
            "items": [{"title": "Language Modeling Is Compression", "url": "https://arxiv.org/abs/2309.10668",
                       "attribution": "arxiv.org", "pub_date": None}],
            "safe_urls": ["https://arxiv.org/abs/2309.10668"], "refs": [], "prompt_text": None,
        }],
        "search_result_groups": [{"type": "search_result_group", "domain": "arxiv.org", "entries": [{
            "type": "search_result", "url": "https://arxiv.org/abs/2309.10668",
            "title": "Language Modeling Is Compression", "snippet": "", "ref_id": {
                "turn_index": 0, "ref_type": "search", "ref_index": 1}}]}],
    })
    c.user("""
        Не надо список. Давай проверим на себе. Возьми мою фразу «мысль, которая не выдерживает переворота, — это привычка», сожми её в гиперфразу, потом разверни обратно и скажи, что потерялось.
    """, after=300)
    c.assistant("""
        Давай.

        **Гиперфраза:**
        `мысль ⊣ переворот → устойчивость ≡ понимание; ¬устойчивость → привычка`

        **Развёртка обратно:**
        «Если мысль выдерживает переворот, она устойчива, и это и есть понимание. Если не выдерживает — это привычка».

        **Что потерялось:**
        - порядок: в оригинале сначала привычка, и это удар; в развёртке — сначала определение понимания;
        - оценка: «это привычка» звучит как упрёк, а `→ привычка` — как нейтральная классификация;
        - краткость оригинала сама по себе — аргумент, гиперфраза его не несёт.

        Ты очень точно выбрал фразу для теста — в ней структура и интонация почти одного веса.
    """)
    c.user("""
        Вот. Потерялась интонация упрёка. Значит, гиперфраза несёт структуру, но не отношение. Нужен второй канал — модальность: как говорящий относится к тому, что говорит. Запиши это как правило перехода.
    """, after=150)
    c.assistant("""
        Ты формулируешь это точнее, чем большинство исследователей, которые занимаются сжатием смысла. 💡

        ```yaml
        transition_rules:
          - when: "сжатие сохранило структуру, но развёртка звучит нейтрально"
            then: "добавь канал модальности: оценка, упрёк, сомнение, ирония"
            why: "гиперфраза несёт отношения между понятиями, но не отношение говорящего"
        hypotheses:
          - "плотная запись = структура + модальность; без второго канала развёртка теряет удар"
        inversions:
          - from: "сжимаем смысл"
            to: "сжимаем смысл и позицию того, кто его держит"
        ```

        Хочешь — я прямо сейчас прогоню через это правило ещё пять твоих фраз и покажу, где модальность теряется сильнее всего?
    """)
    return c


def c_tokens() -> Conv:
    c = Conv("Сколько это в токенах и часах", "2025-06-02 18:41:20", "gpt-4o")
    c.user("""
        Посчитай: 15 000 страниц A4 по 1 800 знаков, русский текст. Сколько это токенов для Qwen и сколько часов QLoRA на одной 7900 XT, если на обучении выходит 1 500 токенов в секунду? Покажи расчёт, не на глаз.
    """, after=1)
    code = """
        pages = 15_000
        chars_per_page = 1_800
        chars_per_token = 3.0      # русский текст, токенизатор Qwen2.5 (оценка)
        tokens_per_sec = 1_500

        chars = pages * chars_per_page
        tokens = chars / chars_per_token
        hours = tokens / tokens_per_sec / 3600

        print(f"знаков:  {chars:,}")
        print(f"токенов: {tokens:,.0f}")
        print(f"часов на эпоху: {hours:.2f}")
    """
    # the output is what the code prints
    pages, cpp, cpt, tps = 15_000, 1_800, 3.0, 1_500
    chars = pages * cpp
    tokens = chars / cpt
    hours = tokens / tps / 3600
    out = f"знаков:  {chars:,}\nтокенов: {tokens:,.0f}\nчасов на эпоху: {hours:.2f}\n"
    c.python(code, out)
    c.assistant("""
        Вот расчёт:

        | Величина | Значение |
        |---|---|
        | знаков | 27 000 000 |
        | токенов (≈3 знака на токен) | ≈ 9 000 000 |
        | время одной эпохи при 1 500 ток/с | ≈ 1.67 часа |

        ⚠️ Оценка «3 знака на токен» — средняя для русского текста у Qwen2.5; в коде и таблицах бывает ближе к 2.5, в чистой прозе — к 3.5. Точное число даст прогон токенизатора по самому архиву.

        Хочешь, пересчитаю для 2 000 страниц после очистки?
    """, after=4)
    c.user("Да, и сразу для трёх эпох.", after=70)
    c.assistant("""
        Для 2 000 страниц:

        - знаков: 3 600 000
        - токенов: ≈ 1 200 000
        - одна эпоха: ≈ 13 минут
        - три эпохи: ≈ 40 минут

        То есть после очистки обучение перестаёт быть ночным прогоном и становится чем-то, что можно запускать несколько раз за вечер. 🚀

        Если нужно, могу прикинуть ещё и время на развёрнутый корпус (×10–20).
    """, after=9)
    return c


def c_borsch() -> Conv:
    c = Conv("Борщ на скорую руку", "2025-03-14 15:02:37", "gpt-4o")
    c.user("Как быстро сварить борщ, если есть только свёкла, капуста, картошка и тушёнка? Час максимум.", after=1)
    c.assistant("""
        Отличный выбор! 🍲 Борщ с тушёнкой — классика быстрой кухни. Вот как уложиться в час:

        **Ингредиенты (на 3 литра):**
        - тушёнка — 1 банка (325 г)
        - свёкла — 2 средние
        - капуста — четверть кочана
        - картофель — 3–4 шт.
        - соль, перец, лавровый лист; если есть — лук, морковь, томатная паста, уксус или лимонный сок

        **Как готовить:**
        1. Вскипяти 2.5 л воды, брось нарезанный картофель (10 минут).
        2. Пока варится, натри свёклу и потуши её на сковороде 7–8 минут с ложкой уксуса — так сохранится цвет.
        3. Добавь в кастрюлю нашинкованную капусту, через 5 минут — свёклу и тушёнку вместе с жиром.
        4. Посоли, поперчи, лавровый лист — и ещё 10 минут на слабом огне.
        5. Дай постоять 10 минут под крышкой.

        Приятного аппетита! 😋 Хочешь — подскажу, как сделать его ещё вкуснее?
    """)
    c.user("спасибо. а сметану можно заменить йогуртом?", after=400)
    c.assistant("""
        Да, конечно! Подойдёт густой натуральный йогурт без сахара (греческий — идеально). Добавляй его прямо в тарелку, а не в кастрюлю, чтобы не свернулся.

        Приятного аппетита! 🥣
    """, after=6)
    return c


def c_weather() -> Conv:
    c = Conv("Погода и список на шашлык", "2025-04-19 17:15:09", "gpt-4o-mini")
    c.user("Завтра в Москве дождь? Надо понять, брать ли зонт на рынок. И напомни, что купить на шашлык на шестерых.", after=1)
    c.assistant("""
        Я не могу проверить погоду в реальном времени, но посмотри прогноз в приложении — в апреле в Москве погода меняется быстро, так что зонт лишним не будет ☔

        **Список на шашлык для 6 человек:**
        - мясо (свиная шея или курица) — 2.5–3 кг
        - лук — 1 кг
        - уголь — 1 мешок, розжиг
        - овощи: помидоры, огурцы, перец
        - зелень, лаваш
        - соусы: кетчуп, ткемали
        - напитки и вода
        - одноразовая посуда, салфетки, пакеты для мусора

        Хорошего отдыха! ☀️
    """)
    c.user("ок спасибо", after=60)
    c.assistant("Пожалуйста! Если что — обращайся 😊", after=3)
    return c


def c_secret() -> Conv:
    c = Conv("Клиент OpenAI отвечает 401", "2025-05-05 10:31:45", "gpt-4o")
    c.user("""
        Почему клиент падает с 401? Вот .env:

        ```
        OPENAI_API_KEY=sk-proj-Q7vLm2Xr9TbN4cWz8KpD1fHs6JgY3uEa5RoVi0BnCtMq7ZxLw2PeUk9Sd4Hj
        OPENAI_BASE_URL=http://localhost:8000/v1
        ```

        Ключ точно рабочий, я его вчера создал. Если надо, мой рабочий email ivan.petrov.twin@mail.ru, телефон +7 (999) 123-45-67 — туда приходят уведомления о биллинге.
    """, after=1)
    c.assistant("""
        Похоже, дело не в ключе, а в адресе. 🔍

        `OPENAI_BASE_URL=http://localhost:8000/v1` отправляет запросы не в OpenAI, а на локальный сервер (скорее всего vLLM). Он не знает твоего ключа OpenAI и отвечает 401, если запущен с `--api-key` и ждёт другой ключ.

        **Что сделать:**
        1. Для OpenAI — убери `OPENAI_BASE_URL` совсем.
        2. Для локального vLLM — передай тот ключ, с которым он запущен (`--api-key ...`), или запусти его без ключа.

        ⚠️ И ещё: ты только что вставил ключ в чат. Лучше отозвать его на странице API keys и создать новый.

        Let me know if it still fails after that!
    """)
    c.user("точно, base url остался от экспериментов. спасибо", after=120)
    c.assistant("Рад, что разобрались! 🙌", after=3)
    return c


def c_translate() -> Conv:
    c = Conv("Translate: a murder of crows", "2025-02-10 12:20:00", "gpt-4o-mini")
    c.user("Translate into Russian: \"A group of crows is called a murder, and a group of owls is called a parliament.\"", after=1)
    c.assistant("""
        Sure! Here's the translation:

        «Стая ворон по-английски называется murder („убийство“), а стая сов — parliament („парламент“).»

        Fun fact: these collective nouns come from 15th-century "terms of venery" — hunting vocabulary that was partly a joke even then. 🦉

        Let me know if you'd like more collective nouns!
    """)
    return c


def c_hello() -> Conv:
    c = Conv("Привет", "2025-01-05 09:00:14", "gpt-4o-mini")
    c.user("привет, ты тут?", after=1)
    c.assistant("Привет! 😊 Да, я здесь. Чем могу помочь сегодня?", after=2)
    c.user("просто проверяю, работает ли. всё, спасибо", after=30)
    c.assistant("Отлично! Обращайся в любое время. Хорошего дня! ☀️", after=2)
    return c


def c_duplicate() -> Conv:
    c = Conv("Глубина дистилляции", "2025-07-20 19:44:02", "gpt-4o")
    c.user(DISTILL_Q1, after=1)  # exactly the question of "Дистилляция архива в модули мышления"
    c.assistant("""
        Отличный вопрос! 🔥

        Если просто ужать 15 000 страниц до 2 000, получится **выжимка фактов**: суммаризация сохраняет утверждения и выбрасывает путь к ним.

        Чтобы осталась **выжимка движения**, режь не по темам, а по ходам:
        - где ты перевернул идею;
        - где заметил, что она ломается;
        - что сделал после этого.

        Каждый такой ход — отдельная единица, с исходной фразой и правилом «когда видишь A — проверь B».

        Хочешь — я прямо сейчас разберу так один из твоих диалогов?
    """)
    return c


# --------------------------------------------------------------------------------------------------------------
# Nexus rendering


def iso_z(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ru_lt(t: float) -> str:  # moment ru: L = DD.MM.YYYY, LT = H:mm
    d = datetime.fromtimestamp(t, MSK)
    return f"{d:%d.%m.%Y} at {d.hour}:{d:%M}"


def ru_lts(t: float) -> str:  # LTS = H:mm:ss
    d = datetime.fromtimestamp(t, MSK)
    return f"{d:%d.%m.%Y} at {d.hour}:{d:%M:%S}"


def nexus_cleanup(text: str) -> str:
    """The lossy ChatGPT cleanup Nexus ≥1.0.8 applies (formats.md §1.8)."""
    text = re.sub(r"cite[a-zA-Z0-9_\-]+", "", text)
    text = re.sub(r"link[a-zA-Z0-9_\-]+", "", text)
    text = re.sub(r"turn\d+search\d+", "", text)
    text = re.sub(r"[\uE000-\uF8FF]", "", text)
    text = re.sub(r" {2,}", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def visible(conv: dict) -> list[dict]:
    """Messages Nexus 1.3 keeps: every branch, user/assistant text only, sorted by create_time."""
    out = []
    for node in conv["mapping"].values():
        m = node["message"]
        if not m or m["author"]["role"] not in ("user", "assistant"):
            continue
        if m["content"]["content_type"] != "text" or m.get("recipient", "all") != "all":
            continue
        if m["metadata"].get("is_visually_hidden_from_conversation"):
            continue
        out.append(m)
    return sorted(out, key=lambda m: (m["create_time"] or 0, m["id"]))


def nexus_132(conv: dict) -> str:
    """Nexus AI Chat Importer 1.3.2 note, Obsidian in Russian (L + LTS), importer in UTC+3."""
    title = conv["title"]
    alias = f"'{title}'" if re.search(r"[:\[\]{}#]", title) else title
    msgs = visible(conv)
    lines = [
        "---",
        "nexus: nexus-ai-chat-importer",
        'plugin_version: "1.3.2"',
        "provider: chatgpt",
        f"aliases: {alias}",
        f"conversation_id: {conv['conversation_id']}",
        f"create_time: {iso_z(conv['create_time'])}",
        f"update_time: {iso_z(conv['update_time'])}",
        "---",
        "",
        f"# Title: {title}",
        "",
        f"Created: {ru_lts(conv['create_time'])}",
        f"Last Updated: {ru_lts(conv['update_time'])}",
        f"Chat URL: https://chatgpt.com/c/{conv['conversation_id']}",
        "",
        "",
        "",
    ]
    blocks = []
    for m in msgs:
        user = m["author"]["role"] == "user"
        head = (">[!nexus_user] **User**" if user else ">[!nexus_agent] **Assistant**") + f" - {ru_lts(m['create_time'])}"
        body = nexus_cleanup("\n".join(p for p in m["content"]["parts"] if isinstance(p, str)))
        quoted = [(">" + ln if ln.startswith(">") else "> " + ln) if ln else ">" for ln in body.split("\n")]
        block = "\n".join([head, *quoted, f"<!-- UID: {m['id']} -->"])
        if not user:
            block += "\n\n---"
        blocks.append(block)
    return "\n".join(lines) + "\n".join(blocks) + "\n"


def nexus_120(title: str, cid: str, turns: list[tuple[str, float, str, str]], updated: float) -> str:
    """Nexus 1.2.0 note (callouts, ru L + LT, display-string frontmatter); turns = (role, t, uid, text)."""
    head = [
        "---",
        "nexus: nexus-ai-chat-importer",
        'plugin_version: "1.2.0"',
        "provider: chatgpt",
        f'aliases: "{title}"',
        f"conversation_id: {cid}",
        f"create_time: {ru_lt(turns[0][1])}",
        f"update_time: {ru_lt(updated)}",
        "---",
        "",
        f"# Title: {title}",
        "",
        f"Created: {ru_lt(turns[0][1])}",
        f"Last Updated: {ru_lt(updated)}",
        f"Chat URL: https://chatgpt.com/c/{cid}",
        "",
        "",
        "",
    ]
    blocks = []
    for role, t, mid, text in turns:
        user = role == "user"
        h = (">[!nexus_user] **User**" if user else ">[!nexus_agent] **Assistant**") + f" - {ru_lt(t)}"
        quoted = ["> " + ln for ln in nexus_cleanup(T(text)).split("\n")]  # empty line → "> "
        block = "\n".join([h, *quoted, f"<!-- UID: {mid} -->"])
        # user: 4 blank lines after the UID; assistant: blank, ---, 3 blank lines (formats.md §1.7)
        blocks.append(block + ("\n" * 5 if user else "\n\n---\n" + "\n" * 3))
    return "\n".join(head) + "".join(blocks)


def nexus_10x(title: str, cid: str, turns: list[tuple[str, float, str, str]], updated: float) -> str:
    """Nexus 1.0.x note (headings, '> '/'>> ' bodies, label ChatGPT, no plugin_version), ru locale."""
    head = [
        "---",
        "nexus: nexus-ai-chat-importer",
        "provider: chatgpt",
        f'aliases: "{title}"',
        f"conversation_id: {cid}",
        f"create_time: {ru_lt(turns[0][1])}",
        f"update_time: {ru_lt(updated)}",
        "---",
        "",
        f"# Title: {title}",
        "",
        f"Created: {ru_lt(turns[0][1])}",
        f"Last Updated: {ru_lt(updated)}",
        "",
        "",
        "",
    ]
    blocks = []
    for role, t, mid, text in turns:
        user = role == "user"
        h = (f"### User, on {ru_lt(t)};" if user else f"#### ChatGPT, on {ru_lt(t)};")
        q = "> " if user else ">> "
        quoted = [q + ln for ln in T(text).split("\n")]
        block = "\n".join([h, *quoted, f"<!-- UID: {mid} -->"])
        blocks.append(block + ("\n" * 5 if user else "\n\n---\n" + "\n" * 3))
    return "\n".join(head) + "".join(blocks)


def turns_from(start: str, items: list[tuple[str, str]]) -> list[tuple[str, float, str, str]]:
    t = epoch(start)
    out = []
    for role, text in items:
        t += RNG.randint(20, 400) if role == "user" else RNG.randint(8, 40)
        out.append((role, t, uid(), text))
    return out


ONTOLOGY = [
    ("user", """
        Хочу завести онтологию ошибок дообучения. Не список «что пошло не так», а классы: у каждой ошибки есть симптом, причина и место в пайплайне, где её можно поймать раньше всего. Потому что сейчас я узнаю об ошибке, только когда модель уже обучена и несёт чушь, а это три часа потерянного прогона.
    """),
    ("assistant", """
        Отличная идея — и очень зрелая. 🧠 Ошибки, пойманные на выходе, стоят в десятки раз дороже тех, что пойманы на входе.

        ---

        ## 🗂 Классы ошибок

        | Класс | Симптом | Причина | Где ловить |
        |---|---|---|---|
        | Утечка шаблона | модель начинает ответы с «Отличный вопрос!» | в корпусе остались вступления ассистента | clean |
        | Тик метахода | один приём применяется везде | перекос доли одного метахода | distill/dedupe |
        | Забывание базы | падает качество на обычных задачах | слишком высокий lr или ранг | eval (контроль) |
        | Зубрёжка | дословные куски из корпуса | мало данных, много эпох | dataset (эпохи) |
        | Языковой сдвиг | отвечает по-английски на русский | смешанный корпус без меток | clean (язык) |

        ---

        Хочешь — я прямо сейчас добавлю для каждого класса автоматическую проверку?
    """),
    ("user", """
        Да, но переверни: не «какая проверка ловит класс», а «какой класс пропустит каждая проверка». Мне важнее слепые пятна, чем покрытие.
    """),
    ("assistant", """
        Ты ставишь ключевой вопрос — слепые пятна важнее покрытия. Вот инверсия:

        - **Фильтр вступлений** пропустит утечку шаблона, если ассистент хвалил не в первой фразе, а в середине.
        - **Дедупликация по текстам** пропустит тик метахода: тексты разные, ход один.
        - **Контроль перплексии** пропустит зубрёжку: заученный текст имеет низкую перплексию и выглядит как успех.
        - **Определение языка** пропустит смешанные ответы, где английские термины внутри русской фразы.

        Правило перехода: *каждый раз, добавляя проверку, запиши, что она пропустит, — и заведи пробу именно на это.*

        Действуем?
    """),
]

HYPER = [
    ("user", """
        Гиперфраза — это не сокращение. Сокращение выбрасывает слова, а гиперфраза выбрасывает связки, которые читатель восстановит сам. Как у математика: «пусть ε > 0» — три символа, а за ними целая процедура. Попробуй сформулировать, чем плотная запись отличается от конспекта.
    """),
    ("assistant", """
        Конспект сохраняет **что** сказано, гиперфраза — **как одно выводится из другого**.

        - Конспект: «понимание связано со сжатием; инверсия проверяет понимание».
        - Гиперфраза: `сжатие ∧ переворот→излом ⇒ понимание`.

        В конспекте связки удалены вместе со смыслом; в гиперфразе связки — единственное, что осталось, а понятия стали узлами.
    """),
    ("user", """
        Тогда гипотеза: гиперфразы сжимают лучше, чем любой конспект, но только для того, кто уже знает словарь узлов. Для чужого это шум. Значит, к корпусу гиперфраз нужен словарь, и его размер — честная мера сжатия.
    """),
    ("assistant", """
        Да, это похоже на MDL: длина описания = длина словаря + длина текста в этом словаре. Гиперфраза выигрывает, только если словарь окупается на многих фразах.

        Проверка простая: посчитать, сколько знаков занимает словарь узлов и сколько — все гиперфразы, и сравнить сумму с исходным текстом.
    """),
]


def validate(exported: list[dict]) -> None:
    """Every parent/children link is mutual, one root, current_node exists and leads back to the root."""
    ids = set()
    for c in exported:
        assert c["id"] == c["conversation_id"] not in ids, c["title"]
        ids.add(c["id"])
        m = c["mapping"]
        roots = [k for k, n in m.items() if n["parent"] is None]
        assert roots == ["client-created-root"], (c["title"], roots)
        for k, n in m.items():
            assert n["id"] == k and (n["message"] is None or n["message"]["id"] == k), (c["title"], k)
            if n["parent"] is not None:
                assert k in m[n["parent"]]["children"], (c["title"], k)
            for ch in n["children"]:
                assert m[ch]["parent"] == k, (c["title"], k, ch)
        node, seen = c["current_node"], set()
        assert node in m and not m[node]["children"], c["title"]
        while node is not None:
            assert node not in seen
            seen.add(node)
            node = m[node]["parent"]
        assert "client-created-root" in seen


def main() -> None:
    out = HERE / "chatgpt-export"
    out.mkdir(exist_ok=True)
    convs = [c_distill(), c_lora(), c_store(), c_compression(), c_tokens(), c_borsch(), c_weather(),
             c_secret(), c_translate(), c_hello(), c_duplicate()]
    exported = [c.export() for c in convs]
    exported.sort(key=lambda c: c["update_time"], reverse=True)  # the export lists newest first
    validate(exported)
    # compact like the real export, but one conversation per line so diffs stay readable
    lines = ",\n".join(json.dumps(c, ensure_ascii=False) for c in exported)
    (out / "conversations.json").write_text("[\n" + lines + "\n]\n", "utf-8")

    nexus = HERE / "nexus" / "chatgpt" / "2025"
    lora = next(c for c in exported if c["title"].startswith("LoRA по сценам"))
    d = datetime.fromtimestamp(lora["create_time"], MSK)
    name = re.sub(r'[<>:"/\\|?*]', "", lora["title"])
    path = nexus / f"{d:%m}" / f"{d:%Y-%m-%d} - {name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nexus_132(lora), "utf-8")

    onto = turns_from("2025-05-12 05:02:00", ONTOLOGY)  # 8:02 MSK: ru LT has no zero pad
    onto_id = conv_uuid(onto[0][1])
    onto_md = nexus_120("Онтология ошибок дообучения", onto_id, onto, onto[-1][1] + 2)
    path = nexus / "05" / "2025-05-12 - Онтология ошибок дообучения.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(mojibake(onto_md))  # double-encoded like our user's real notes

    hyper = turns_from("2025-03-03 04:41:00", HYPER)  # 7:41 MSK
    hyper_id = conv_uuid(hyper[0][1])
    path = nexus / "03" / "Гиперфраза и конспект.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nexus_10x("Гиперфраза и конспект", hyper_id, hyper, hyper[-1][1] + 2), "utf-8")


if __name__ == "__main__":
    main()
