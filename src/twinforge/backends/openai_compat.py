"""Any OpenAI-compatible chat server: vLLM, SGLang, Ollama, llama.cpp's server, LM Studio, OpenAI itself.

POST {base_url}/chat/completions, nothing else (model discovery aside: GET {base_url}/models when no model is
configured). Work is spread over every configured base URL: each request goes to the server with the fewest in
flight (ties in turn), `per_url_concurrency` at most on each, so several servers are all kept busy (without it,
`concurrency` requests in all); a URL that keeps failing is dropped for the rest of the batch and its requests go
to the others.

JSON schemas: servers differ in what they accept, so we step down a ladder — `json_schema` (strict), then
`json_object` (with the schema beside it, which llama-cpp-python's server enforces), then no response_format — and
remember per URL the first rung that worked, so one batch pays for the probing once. Below the first rung the
schema is also spelled out in the prompt, since the server may no longer enforce it.

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and jitter (`retries` counts the
retries of one request; a failure first moves it to another live URL, free of charge); other 4xx are the
request's fault and are not retried.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from urllib.parse import urlsplit

import httpx

from .base import BackendError, Completion, Message, Request
from .config import BackendConfig
from .retry import backoff_delays, run_bounded

# Consecutive failed attempts after which a URL is skipped for the rest of a batch.
DEAD_AFTER = 3
RETRY_AFTER_CAP = 30.0  # never sleep longer than this on a server's Retry-After
_MODES = ("json_schema", "json_object", "prompt")  # the ladder, best first
_REJECTED = (400, 422)  # "I do not understand this request" (422: FastAPI-based servers' validation errors)


class _Retryable(Exception):
    """One attempt failed in a way worth retrying (possibly on another URL)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Rejected(Exception):
    """The server understood and refused the request (4xx): retrying the same body will not help."""

    def __init__(self, status: int, message: str, format_refused: bool = False):
        super().__init__(message)
        self.status = status
        self.format_refused = format_refused  # it was the response_format the server could not take


def normalize_url(url: str) -> str:
    """'http://host:8000' -> 'http://host:8000/v1' (every compatible server serves the API under /v1);
    a URL with a path is kept as given, minus a trailing slash."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url if urlsplit(url).path else url + "/v1"


class _Pool:
    """The URLs of one batch: how many requests each has in flight, consecutive-failure counts, and the ones given
    up on. A request goes to the least-loaded live URL (ties in turn), never past `cap` in flight on one URL: a
    worker waits for a free slot rather than pile onto a busy server while another idles."""

    def __init__(self, urls: list[str], start: int = 0, cap: int | None = None):
        self.urls = urls
        self.cap = cap
        self.fails = dict.fromkeys(urls, 0)
        self.load = dict.fromkeys(urls, 0)
        self.last_error: dict[str, str] = {}
        self._next = itertools.count(start)
        self._cond = threading.Condition()

    def acquire(self, avoid: Collection[str] = ()) -> str | None:
        """A slot on the least-loaded live URL, preferring ones not in `avoid` (waits while all are full);
        None when every URL is dead. Give it back with release()."""
        with self._cond:
            while True:
                alive = [u for u in self.urls if self.fails[u] < DEAD_AFTER]
                if not alive:
                    return None
                fresh = [u for u in alive if u not in avoid] or alive
                free = [u for u in fresh if self.cap is None or self.load[u] < self.cap]
                if free:
                    turn = next(self._next)
                    n = len(self.urls)
                    url = min(free, key=lambda u: (self.load[u], (self.urls.index(u) - turn) % n))
                    self.load[url] += 1
                    return url
                self._cond.wait()

    def release(self, url: str) -> None:
        with self._cond:
            self.load[url] -= 1
            self._cond.notify_all()

    def untried(self, tried: set[str]) -> bool:
        with self._cond:
            return any(u not in tried and self.fails[u] < DEAD_AFTER for u in self.urls)

    def failed(self, url: str, why: str) -> None:
        with self._cond:
            self.fails[url] += 1
            self.last_error[url] = why
            self._cond.notify_all()  # a URL now dead may leave waiters nothing to wait for

    def ok(self, url: str) -> None:
        with self._cond:
            self.fails[url] = 0


class OpenAICompatBackend:
    name = "openai"

    def __init__(self, cfg: BackendConfig):
        if not cfg.base_urls:
            raise BackendError("the openai backend has no server to call",
                               "set backend.base_urls, e.g. [http://localhost:8000/v1] (vLLM) or "
                               "[http://localhost:11434/v1] (Ollama)")
        self.cfg = cfg
        self.urls = list(dict.fromkeys(normalize_url(u) for u in cfg.base_urls))
        self._model = cfg.model
        self._mode: dict[str, int] = {}  # url -> index into _MODES that worked there
        self._rr = itertools.count()  # spreads successive single completes over the URLs
        key = os.environ.get(cfg.api_key_env, "") if cfg.api_key_env else ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}  # local servers need no key
        # per_url_concurrency: that many in flight on each server (all of them busy); else `concurrency` in all
        self.per_url = cfg.per_url_concurrency or cfg.concurrency
        self.workers = cfg.per_url_concurrency * len(self.urls) if cfg.per_url_concurrency else cfg.concurrency
        limits = httpx.Limits(max_connections=self.workers * 2, max_keepalive_connections=self.workers)
        self.client = httpx.Client(headers=headers, limits=limits,
                                   timeout=httpx.Timeout(cfg.timeout, connect=min(cfg.timeout, 10.0)))

    # -- the interface ------------------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        """The configured model, else the first one a server lists (single-model servers ignore the name anyway)."""
        if self._model is None:
            self._model = self._discover_model() or "default"
        return self._model

    def complete(self, request: Request) -> Completion:
        return self._complete(request, _Pool(self.urls, start=next(self._rr), cap=self.per_url))

    def complete_many(self, requests: Sequence[Request]) -> list[Completion | BackendError]:
        pool = _Pool(self.urls, start=next(self._rr), cap=self.per_url)
        return run_bounded(lambda r: self._complete(r, pool), list(requests), self.workers)

    def stream(self, request: Request) -> Iterator[str]:
        """Token pieces of a plain-text answer as the server sends them (SSE); JSON requests use complete()."""
        if request.json_schema is not None:
            yield self.complete(request).text
            return
        body = self._body(self.model, request, None) | {"stream": True}
        url = self.urls[next(self._rr) % len(self.urls)]
        try:
            with self.client.stream("POST", f"{url}/chat/completions", json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    raise BackendError(f"{url}: HTTP {r.status_code}: {_error_text(r)}")
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        delta = json.loads(data)["choices"][0].get("delta") or {}
                    except (ValueError, KeyError, IndexError, TypeError):
                        raise BackendError(f"{url}: unexpected stream chunk {data[:200]!r}") from None
                    if delta.get("content"):
                        yield delta["content"]
        except httpx.HTTPError as e:
            raise BackendError(f"{url}: streaming failed ({type(e).__name__}: {e})",
                               "check that the server is up, or ask without streaming") from None

    def close(self) -> None:
        self.client.close()

    # -- one request, with retries --------------------------------------------------------------------------------

    def _complete(self, request: Request, pool: _Pool) -> Completion:
        model = self.model
        delays = backoff_delays(self.cfg.retries)
        attempts = 0
        tried: set[str] = set()
        while True:
            url = pool.acquire(avoid=tried)
            if url is None:
                raise self._gave_up(pool, attempts, dead=True)
            attempts += 1
            tried.add(url)
            try:
                completion = self._post_ladder(url, model, request)
            except _Retryable as e:
                pool.failed(url, str(e))
                retry_after = e.retry_after
            except _Rejected as e:
                raise BackendError(f"{url}: HTTP {e.status}: {e}", self._rejection_hint(e.status, url, model)) from None
            else:
                pool.ok(url)
                completion.meta["attempts"] = attempts
                return completion
            finally:
                pool.release(url)  # before any backoff sleep: the slot is not held while waiting
            if pool.untried(tried):
                continue  # another server may be fine: fail over at once, without spending a retry
            delay = next(delays, None)
            if delay is None:
                raise self._gave_up(pool, attempts, dead=False) from None
            time.sleep(min(max(delay, retry_after or 0.0), RETRY_AFTER_CAP))

    def _rejection_hint(self, status: int, url: str, model: str) -> str:
        if status in (401, 403):
            return f"check the API key in ${self.cfg.api_key_env} (and its access to model {model!r})"
        if status == 404:
            return f"is the model name {model!r} right, and does the URL end in /v1? `curl {url}/models` lists them"
        return "the server refused the request; its message above says why"

    def _gave_up(self, pool: _Pool, attempts: int, dead: bool) -> BackendError:
        errors = "; ".join(f"{u}: {pool.last_error[u]}" for u in self.urls if u in pool.last_error)
        first = next((u for u in self.urls if u in pool.last_error), self.urls[0])
        what = "every server failed repeatedly" if dead else f"failed after {attempts} attempt(s)"
        err = BackendError(f"openai backend: {what} ({errors})",
                           f"is the server running? `curl {first}/models` should list a model; "
                           "check backend.base_urls, or raise backend.timeout / backend.retries")
        err.attempts = attempts  # type: ignore[attr-defined]  # for callers and tests that count
        return err

    def _post_ladder(self, url: str, model: str, request: Request) -> Completion:
        """One attempt on one URL. With a schema, steps down the response_format ladder on 400/422."""
        if request.json_schema is None:
            return self._post(url, self._body(model, request, None))
        start = self._mode.get(url, 0)
        for i in range(start, len(_MODES)):
            try:
                completion = self._post(url, self._body(model, request, _MODES[i]))
            except _Rejected as e:
                if e.format_refused and i + 1 < len(_MODES):
                    continue  # this server does not take that response_format: try the next rung
                raise
            self._mode[url] = i  # only a rung that worked is remembered (a 400 for another reason changes nothing)
            completion.meta["response_format"] = _MODES[i]
            return completion
        raise AssertionError("unreachable")

    def _body(self, model: str, request: Request, mode: str | None) -> dict:
        messages: list[Message] = [dict(m) for m in request.messages]
        body: dict = {
            "model": model,
            "messages": messages,
            "max_tokens": request.max_tokens or self.cfg.max_tokens,
            "temperature": self.cfg.temperature if request.temperature is None else request.temperature,
            "seed": self.cfg.seed,
        }
        schema = request.json_schema
        if mode == "json_schema":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "out", "schema": schema, "strict": True}}
        elif mode in ("json_object", "prompt"):
            # The server no longer enforces the schema, so say it in words (OpenAI's json_object also insists
            # that the prompt mention JSON).
            note = f"\n\nAnswer with one JSON object only, matching this JSON schema:\n{json.dumps(schema)}"
            target = next((m for m in reversed(messages) if m.get("role") == "user"), None)
            if target is not None:
                target["content"] = (target.get("content") or "") + note
            else:
                messages.append({"role": "user", "content": note.strip()})
            if mode == "json_object":
                # "schema" beside json_object is how llama-cpp-python and Anyscale-style servers take a schema;
                # servers that do not know it ignore it (or refuse, and we step down to the prompt alone).
                body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def _post(self, url: str, body: dict) -> Completion:
        try:
            r = self.client.post(f"{url}/chat/completions", json=body)
        except httpx.TimeoutException as e:
            raise _Retryable(f"timed out after {self.cfg.timeout:g}s ({type(e).__name__})") from None
        except httpx.TransportError as e:
            raise _Retryable(f"cannot connect ({type(e).__name__}: {e})") from None
        if r.status_code >= 400:
            error = _error_text(r)
            # Some servers (llama-cpp-python's) answer an unknown response_format with a 500 naming it: that is
            # a refusal of the format, not a server in trouble.
            refused = "response_format" in body and "response_format" in error
            if (r.status_code == 429 or r.status_code >= 500) and not refused:
                raise _Retryable(f"HTTP {r.status_code}: {error}", _retry_after(r))
            raise _Rejected(r.status_code, error, format_refused=refused or r.status_code in _REJECTED)
        try:
            data = r.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Retryable(f"unexpected response: {r.text[:200]!r}") from None
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            model=data.get("model") or body["model"],
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            meta={"backend": self.name, "url": url, "finish_reason": choice.get("finish_reason")},
        )

    def _discover_model(self) -> str | None:
        for url in self.urls:
            try:
                r = self.client.get(f"{url}/models", timeout=min(self.cfg.timeout, 10.0))
                models = r.json().get("data") or []
                if r.status_code == 200 and models:
                    return models[0].get("id")
            except (httpx.HTTPError, ValueError, AttributeError):
                continue
        return None


def _error_text(r: httpx.Response) -> str:
    """The server's own message (OpenAI's {"error": {"message": ...}}, FastAPI's {"detail": ...}) or the body."""
    try:
        data = r.json()
    except ValueError:
        return r.text[:300] or r.reason_phrase
    if isinstance(data, dict):
        err = data.get("error") if isinstance(data.get("error"), dict) else data
        msg = err.get("message") or err.get("detail") or data.get("error")
        if msg:
            return " ".join(str(msg).split())[:300]
    return " ".join(str(data).split())[:300]


def _retry_after(r: httpx.Response) -> float | None:
    try:
        return float(r.headers.get("retry-after", ""))
    except ValueError:
        return None


def create(cfg: BackendConfig) -> OpenAICompatBackend:
    return OpenAICompatBackend(cfg)
