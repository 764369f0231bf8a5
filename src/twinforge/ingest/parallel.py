"""Parse a big JSON export in a child process while this process writes to the store.

Turning JSON into Python objects and those into rows is most of ingest's CPU time, and one Python process
cannot run it beside the SQLite writes (the GIL). A forked child parses, repairs and prepares rows; the parent
only writes them. Errors come back as data (path, what was found, hint) and become the same InputError.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import fields
from multiprocessing.connection import Connection, wait
from typing import Any

from tqdm import tqdm

from ..errors import InputError
from ..orphans import die_with_parent, forking_from_main
from ..records import Conversation, Message

BATCH = 64  # items per message over the pipe
MIN_BYTES = 32 * 1024 * 1024  # below this a fork costs more than it saves

Producer = Callable[[Callable[[int], None]], Iterator[Any]]


# Conversations cross the pipe as plain tuples: pickling slotted dataclasses costs several times more.
_CONV_FIELDS = tuple(f.name for f in fields(Conversation) if f.name != "messages")
_MSG_FIELDS = tuple(f.name for f in fields(Message))


def pack(conv: Conversation) -> tuple:
    return (
        tuple(getattr(conv, n) for n in _CONV_FIELDS),
        [tuple(getattr(m, n) for n in _MSG_FIELDS) for m in conv.messages],
    )


def unpack(packed: tuple) -> Conversation:
    head, msgs = packed
    conv = Conversation(**dict(zip(_CONV_FIELDS, head)))
    conv.messages = [Message(*m) for m in msgs]
    return conv


def workers() -> int:
    """Parser processes: one core stays with the writer (on two cores, a second parser measured slower)."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def in_children(producers: list[Producer], path: str, total: int, desc: str, progress: bool) -> Iterator[Any]:
    """Yield what each `produce(on_bytes)` yields (picklable items), each computed in its own forked child.

    Items are yielded as they arrive, interleaved between children; each child's own items stay in order.
    """
    ctx = multiprocessing.get_context("fork")
    procs, conns = [], []
    for produce in producers:
        recv, send = ctx.Pipe(duplex=False)
        # the child closes every read end it inherits (its own and its siblings'), so a write after this
        # process is gone fails (EPIPE) instead of blocking forever
        proc = ctx.Process(target=_child, args=(produce, path, send, [*conns, recv], forking_from_main()),
                           name="twinforge-parser", daemon=True)
        proc.start()
        send.close()
        procs.append(proc)
        conns.append(recv)
    done = [0] * len(conns)  # bytes each child has read
    with tqdm(total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, leave=False) as bar:
        try:
            open_ = list(conns)
            while open_:
                for recv in wait(open_):
                    try:
                        kind, payload, pos = pickle.loads(recv.recv_bytes())
                    except EOFError:
                        raise InputError(path, "a parser process stopped unexpectedly", "run ingest again") from None
                    i = conns.index(recv)
                    bar.update(pos - done[i])
                    done[i] = pos
                    if kind == "error":
                        raise InputError(*payload)
                    yield from payload
                    if kind == "done":
                        open_.remove(recv)
        finally:
            for recv, proc in zip(conns, procs):
                recv.close()
                if proc.is_alive():
                    proc.terminate()
                proc.join()


def _child(produce: Producer, path: str, send: Connection, inherited: list[Connection], main: bool) -> None:
    die_with_parent(main)
    for c in inherited:
        c.close()
    pos = 0

    def on_bytes(n: int) -> None:
        nonlocal pos
        pos += n

    def put(kind: str, payload) -> None:
        send.send_bytes(pickle.dumps((kind, payload, pos), protocol=pickle.HIGHEST_PROTOCOL))

    try:
        batch: list = []
        for item in produce(on_bytes):
            batch.append(item)
            if len(batch) >= BATCH:
                put("items", batch)
                batch = []
        put("done", batch)
    except InputError as e:
        put("error", (e.path, e.found, e.hint))
    except KeyboardInterrupt:
        pass  # the parent is interrupted too, and rolls back
    except BaseException as e:
        put("error", (path, f"could not be parsed ({type(e).__name__}: {e})", "please report this file's shape"))
    finally:
        send.close()
