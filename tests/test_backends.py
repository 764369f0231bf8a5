"""Backends against real components: the embedded GGUF in-process, llama-cpp-python's OpenAI-compatible server in
a subprocess, and small stdlib HTTP servers for the failures a healthy server never shows (5xx, 429, refusals)."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from conftest import free_port

from twinforge.backends import BackendError, get_backend
from twinforge.backends.base import Request
from twinforge.backends.openai_compat import normalize_url
from twinforge.config import BackendConfig

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["substance", "chatter"]},
        "reason": {"type": "string", "maxLength": 60},
    },
    "required": ["label", "reason"],
}
RICH_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4},
        "kind": {"enum": ["question", "note"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": ["integer", "null"], "minimum": 1},
        "done": {"type": "boolean"},
        "claims": {"type": "array", "items": {"$ref": "#/$defs/claim"}, "minItems": 1},
    },
    "required": ["summary", "topics", "kind"],
    "additionalProperties": False,
    "$defs": {"claim": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
}

RU = (
    "Я хочу обучить маленькую модель на своём архиве чатов. Модель должна отвечать в моём стиле и помнить мои "
    "идеи.\nСейчас архив занимает около двух гигабайт. Я думаю, что модель можно дообучить через LoRA на "
    "процессоре. Какие параметры LoRA выбрать для модели на полмиллиарда параметров?\nСпасибо!"
)
EN = (
    "I want to fine-tune a small model on my chat archive. The model should answer in my style. The archive is "
    "about two gigabytes of JSON. Maybe LoRA on a CPU is enough for a small model? Which LoRA rank should I pick "
    "for the model? Thanks!"
)


def validate(obj, schema) -> None:
    try:
        import jsonschema
    except ImportError:  # the essentials by hand: required keys present, enums respected
        assert isinstance(obj, dict)
        for key in schema.get("required", []):
            assert key in obj
        for key, sub in schema.get("properties", {}).items():
            if key in obj and "enum" in sub:
                assert obj[key] in sub["enum"]
        return
    jsonschema.validate(obj, schema)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# -- extractive -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extractive():
    return get_backend(BackendConfig(name="extractive"))


@pytest.mark.parametrize("text", [RU, EN], ids=["ru", "en"])
def test_extractive_summary_is_verbatim_and_deterministic(extractive, text):
    first = extractive.complete(Request(user(text)))
    again = get_backend(BackendConfig(name="extractive")).complete(Request(user(text)))
    assert first.text == again.text and first.text
    sentences = re.split(r"(?<=[.!?])\s+", first.text)
    assert 1 <= len(sentences) <= 3 and all(s in text for s in sentences)  # whole sentences, verbatim
    assert "Спасибо" not in first.text and "Thanks" not in first.text  # filler never ranks


def test_extractive_picks_the_point(extractive):
    assert "модель" in extractive.complete(Request(user(RU))).text.lower()
    assert "model" in extractive.complete(Request(user(EN))).text.lower()


def test_extractive_uses_the_last_user_message_and_honours_max_tokens(extractive):
    messages = [{"role": "system", "content": "Summarise."}, *user("An older message about cats."),
                {"role": "assistant", "content": "Noted."}, *user(EN)]
    text = extractive.complete(Request(messages)).text
    assert "cats" not in text and "LoRA" in text
    short = extractive.complete(Request(user(EN), max_tokens=5)).text
    assert 0 < len(short) <= 15


@pytest.mark.parametrize("text", [RU, EN], ids=["ru", "en"])
@pytest.mark.parametrize("schema", [SCHEMA, RICH_SCHEMA], ids=["judge", "rich"])
def test_extractive_json_validates(extractive, text, schema):
    out = json.loads(extractive.complete(Request(user(text), json_schema=schema)).text)
    validate(out, schema)
    if schema is SCHEMA:
        assert out["label"] == "substance" and out["reason"] in text  # first enum option; a key sentence
    else:
        assert out["kind"] == "question" and out["summary"] in text and "LoRA" in out["topics"]
        assert out["claims"][0]["text"] in text and out["claims"][0]["text"] != out["summary"]


def test_extractive_handles_empty_input_and_batches(extractive):
    assert extractive.complete(Request([])).text == ""
    validate(json.loads(extractive.complete(Request(user(""), json_schema=SCHEMA)).text), SCHEMA)
    results = extractive.complete_many([Request(user(EN)), Request(user(RU), json_schema=SCHEMA)])
    assert results[0].text == extractive.complete(Request(user(EN))).text
    validate(json.loads(results[1].text), SCHEMA)


def test_extractive_refuses_remote_refs_clearly(extractive):
    with pytest.raises(BackendError, match="schema"):
        extractive.complete(Request(user(EN), json_schema={"$ref": "https://example.com/s.json"}))


# -- llamacpp (in-process, embedded model) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python)")
    return get_backend(BackendConfig(name="llamacpp", context=2048, max_tokens=16, temperature=0))


def test_llamacpp_completes(llama):
    c = llama.complete(Request(user("Say hello in one word.")))
    assert c.text.strip()
    assert c.model.endswith(".gguf") and 1 <= c.completion_tokens <= 16
    assert llama.complete(Request(user("Say hello in one word."))).text == c.text  # seeded, temperature 0


def test_llamacpp_json_schema_is_enforced(llama):
    prompt = "Is 'how do I pick a LoRA rank?' substance or chatter? Answer as JSON with a short reason."
    c = llama.complete(Request(user(prompt), json_schema=SCHEMA, max_tokens=64))
    validate(json.loads(c.text), SCHEMA)


def test_llamacpp_many_in_order_and_errors_as_values(llama):
    counting = user("Count from 1 to 50, separated by commas.")
    results = llama.complete_many([Request(counting, max_tokens=n) for n in (1, 2, 3)]
                                  + [Request(user("word " * 3000))])  # past the 2048-token context
    assert [r.completion_tokens for r in results[:3]] == [1, 2, 3]
    assert isinstance(results[3], BackendError) and "context" in str(results[3])


def test_llamacpp_streams_the_same_answer_piece_by_piece(llama):
    req = Request(user("Count from 1 to 20, separated by commas."), max_tokens=24)
    pieces = list(llama.stream(req))
    assert len(pieces) > 3  # token by token, not one block
    assert "".join(pieces) == llama.complete(req).text


def test_llamacpp_stream_closed_early_stops_and_frees_the_model(llama):
    req = Request(user("Count from 1 to 200, separated by commas."), max_tokens=400)
    it = llama.stream(req)
    first = [next(it), next(it)]
    it.close()  # a client that went away: the decode thread stops at its next token and releases the lock
    assert all(first)
    _, lock = llama._llm()
    assert lock.acquire(timeout=30), "the decode kept the model after the consumer stopped"
    lock.release()
    assert llama.complete(Request(user("Say hi."), max_tokens=2)).completion_tokens <= 2


def test_llamacpp_missing_model_file():
    with pytest.raises(BackendError, match="not found"):
        get_backend(BackendConfig(name="llamacpp", model="/nonexistent/model.gguf"))


# -- openai-compatible: a real llama-cpp-python server ------------------------------------------------------------


@pytest.fixture(scope="module")
def server(llama_server):
    """llama-cpp-python's OpenAI-compatible server on the embedded model (started once, in conftest)."""
    return llama_server


def openai(urls, **kw):
    kw = {"max_tokens": 16, "temperature": 0, "timeout": 60, **kw}
    return get_backend(BackendConfig(name="openai", base_urls=list(urls), **kw))


def test_openai_completes(server):
    b = openai([server])
    assert b.model.endswith(".gguf")  # discovered from /models when none is configured
    c = b.complete(Request(user("Say hello in one word.")))
    assert c.text.strip() and c.meta["url"] == server and c.completion_tokens >= 1


def test_openai_json_schema(server):
    b = openai([server])
    prompt = "Is 'how do I pick a LoRA rank?' substance or chatter? Answer as JSON with a short reason."
    c = b.complete(Request(user(prompt), json_schema=SCHEMA, max_tokens=64))
    validate(json.loads(c.text), SCHEMA)
    # This server refuses type=json_schema; the backend steps down to json_object with the schema and remembers.
    assert c.meta["response_format"] == "json_object"
    assert b._mode[server] == 1


def test_openai_streams_server_sent_events(server):
    b = openai([server], max_tokens=24)
    req = Request(user("Count from 1 to 20, separated by commas."))
    pieces = list(b.stream(req))
    assert len(pieces) > 3 and "".join(pieces) == b.complete(req).text


def test_openai_many_in_order_over_two_urls(server):
    same_server = server.replace("127.0.0.1", "localhost")
    b = openai([server, same_server], concurrency=2)
    counting = user("Count from 1 to 50, separated by commas.")
    results = b.complete_many([Request(counting, max_tokens=n) for n in (1, 2, 3, 4)])
    assert [r.completion_tokens for r in results] == [1, 2, 3, 4]  # request order, whatever finished first
    assert {r.meta["url"] for r in results} == {server, same_server}


def test_openai_dead_url_is_a_clear_error_after_the_configured_retries():
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    b = openai([dead], model="m", retries=1, timeout=2)
    start = time.monotonic()
    with pytest.raises(BackendError) as e:
        b.complete(Request(user("hi")))
    assert e.value.attempts == 2  # the first try and one retry
    assert dead in str(e.value) and f"curl {dead}/models" in str(e.value)
    assert time.monotonic() - start < 5
    results = b.complete_many([Request(user("hi"))] * 4)  # a batch fails fast, as values
    assert all(isinstance(r, BackendError) for r in results)


def test_openai_fails_over_from_a_dead_url(server):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    b = openai([dead, server], retries=0, concurrency=2)
    results = b.complete_many([Request(user("Say hi."), max_tokens=4)] * 4)
    assert all(not isinstance(r, BackendError) for r in results), results
    assert {r.meta["url"] for r in results} == {server}


# -- openai-compatible: scripted failures from a real local HTTP server --------------------------------------------


def ok(text: str) -> tuple[int, dict, dict]:
    return 200, {"model": "m", "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 1}}, {}


def test_openai_retries_5xx_and_429_exactly_as_configured(scripted):
    url, seen = scripted(lambda body, h: (503, {"error": {"message": "overloaded"}}, {}))
    with pytest.raises(BackendError, match="overloaded") as e:
        openai([url], model="m", retries=2).complete(Request(user("hi")))
    assert len(seen) == 3 and e.value.attempts == 3

    calls = iter([(429, {"error": "slow down"}, {"Retry-After": "0"}), ok("fine")])
    url, seen = scripted(lambda body, h: next(calls))
    c = openai([url], model="m", retries=1).complete(Request(user("hi")))
    assert c.text == "fine" and c.meta["attempts"] == 2 and len(seen) == 2


def test_openai_concurrency_is_bounded(scripted):
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def reply(body, headers):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        return ok(body["messages"][-1]["content"])

    url, seen = scripted(reply)
    results = openai([url], model="m", concurrency=3).complete_many([Request(user(str(i))) for i in range(9)])
    assert [r.text for r in results] == [str(i) for i in range(9)]
    assert state["peak"] == 3


def test_openai_4xx_is_not_retried_and_says_why(scripted):
    url, seen = scripted(lambda body, h: (401, {"error": {"message": "invalid api key"}}, {}))
    with pytest.raises(BackendError) as e:
        openai([url], model="m", retries=3).complete(Request(user("hi")))
    assert len(seen) == 1
    assert "invalid api key" in str(e.value) and "OPENAI_API_KEY" in str(e.value)


def test_openai_schema_ladder_and_request_body(scripted, monkeypatch):
    def reply(body, headers):
        fmt = body.get("response_format", {}).get("type")
        return (400, {"error": {"message": "json_schema unsupported"}}, {}) if fmt == "json_schema" else ok("{}")

    url, seen = scripted(reply)
    monkeypatch.setenv("TF_TEST_KEY", "sekret")
    b = openai([url], model="m", api_key_env="TF_TEST_KEY", seed=7, temperature=0.3)
    c = b.complete(Request(user("hi"), json_schema=SCHEMA))
    assert c.meta["response_format"] == "json_object"
    first, second = seen[0][0], seen[1][0]
    assert first["response_format"] == {"type": "json_schema",
                                        "json_schema": {"name": "out", "schema": SCHEMA, "strict": True}}
    assert second["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert "JSON schema" in second["messages"][-1]["content"]  # no longer enforced: spelled out
    assert first["model"] == "m" and first["seed"] == 7 and first["temperature"] == 0.3 and first["max_tokens"] == 16
    assert seen[0][1]["Authorization"] == "Bearer sekret"

    b.complete(Request(user("again"), json_schema=SCHEMA))  # the working rung is remembered: one request
    assert len(seen) == 3 and seen[2][0]["response_format"]["type"] == "json_object"


def test_openai_config_errors_and_urls(monkeypatch):
    with pytest.raises(BackendError, match="base_urls"):
        get_backend(BackendConfig(name="openai"))
    assert normalize_url("localhost:8000") == "http://localhost:8000/v1"
    assert normalize_url("http://h:1/v1/") == "http://h:1/v1"
    assert normalize_url("https://api.example.com/api/v1") == "https://api.example.com/api/v1"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert "Authorization" not in openai(["http://127.0.0.1:9/v1"], model="m").client.headers


def test_registry_creates_each_backend(server):
    assert get_backend(BackendConfig(name="extractive")).name == "extractive"
    assert get_backend(BackendConfig(name="llamacpp", context=2048)).name == "llamacpp"
    assert get_backend(BackendConfig(name="openai", base_urls=[server])).name == "openai"
    with pytest.raises(BackendError, match="unknown backend"):
        get_backend(BackendConfig(name="nope"))

