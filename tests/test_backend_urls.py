"""The openai backend over several base_urls: every server kept busy, least-loaded dispatch, per-URL bounds."""

from __future__ import annotations

import threading
import time

from twinforge.backends import get_backend
from twinforge.backends.base import BackendError, Request
from twinforge.backends.config import BackendConfig


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _backend(urls, **kw):
    return get_backend(BackendConfig(name="openai", base_urls=list(urls), model="m", max_tokens=8, timeout=10,
                                     **kw))


class Meter:
    """A scripted server's reply that counts requests in flight (now, peak) and takes `delay` seconds."""

    def __init__(self, delay: float, status: int = 200):
        self.delay, self.status = delay, status
        self.lock = threading.Lock()
        self.now = self.peak = self.calls = 0

    def __call__(self, body, headers):
        with self.lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        if self.status != 200:
            return self.status, {"error": {"message": "down"}}, {}
        text = body["messages"][-1]["content"]
        return 200, {"model": "m", "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 1}}, {}


def test_two_servers_both_busy_each_within_its_slots(scripted):
    a, b = Meter(0.15), Meter(0.15)
    (url_a, _), (url_b, _) = scripted(a), scripted(b)
    backend = _backend([url_a, url_b], per_url_concurrency=2, concurrency=1)
    results = backend.complete_many([Request(_user(str(i))) for i in range(16)])
    assert [r.text for r in results] == [str(i) for i in range(16)]  # request order kept
    assert a.calls >= 4 and b.calls >= 4  # both servers got work
    assert a.peak == 2 and b.peak == 2  # each kept full, never past its slots
    assert {r.meta["url"] for r in results} == {url_a, url_b}


def test_least_loaded_dispatch_gives_the_faster_server_more(scripted):
    fast, slow = Meter(0.02), Meter(0.4)
    (url_fast, _), (url_slow, _) = scripted(fast), scripted(slow)
    backend = _backend([url_slow, url_fast], per_url_concurrency=1)
    results = backend.complete_many([Request(_user(str(i))) for i in range(12)])
    assert all(not isinstance(r, BackendError) for r in results)
    # round-robin would give each 6; the slow one is busy while the fast one takes the next requests
    assert fast.calls > slow.calls and slow.peak == 1 and fast.peak == 1


def test_without_per_url_concurrency_the_total_stays_concurrency(scripted):
    both = Meter(0.1)  # one meter behind both servers: its peak is what was in flight on the two together
    (url_a, _), (url_b, _) = scripted(both), scripted(both)
    results = _backend([url_a, url_b], concurrency=2).complete_many([Request(_user(str(i))) for i in range(8)])
    assert both.peak == 2 and {r.meta["url"] for r in results} == {url_a, url_b}


def test_a_failing_server_hands_its_work_to_the_other(scripted):
    bad, good = Meter(0.0, status=503), Meter(0.05)
    (url_bad, _), (url_good, _) = scripted(bad), scripted(good)
    backend = _backend([url_bad, url_good], per_url_concurrency=2, retries=0)
    results = backend.complete_many([Request(_user(str(i))) for i in range(8)])
    assert all(not isinstance(r, BackendError) for r in results), results
    assert {r.meta["url"] for r in results} == {url_good} and good.peak <= 2


def test_single_base_url_config_still_bounded_by_concurrency(scripted):
    m = Meter(0.1)
    url, _ = scripted(m)
    results = _backend([url], concurrency=3).complete_many([Request(_user(str(i))) for i in range(9)])
    assert [r.text for r in results] == [str(i) for i in range(9)] and m.peak == 3
