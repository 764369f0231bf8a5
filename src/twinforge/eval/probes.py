"""Probes: the prompts every model answers, side by side.

Three sources, spread evenly when `max_probes` cuts them:
- held-out: questions from the dataset's validation conversations (`val.jsonl`, conversations that are not in
  `train.jsonl`), with the person's held-out answer kept as the reference;
- module: for each thinking module of the dataset, a question about one of its concepts and a request to invert
  its claim, worded as `expand` words them (so a scene adapter is asked what its scene taught);
- user: a YAML file of your own probes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..store import Store
from ..text.language import detect

KINDS = ("user", "heldout", "concept", "inversion")


@dataclass
class Probe:
    id: str
    kind: str  # one of KINDS
    messages: list[dict]  # the prompt: optional system message, then turns ending with the user's
    language: str
    concepts: list[str] = field(default_factory=list)  # what an answer on topic should mention (coverage)
    reference: str | None = None  # the person's held-out answer, when there is one
    module_id: str | None = None
    conversation_id: str | None = None

    @property
    def question(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")

    def as_dict(self) -> dict:
        return asdict(self)


def probe_id(kind: str, messages: list[dict]) -> str:
    raw = json.dumps([kind, messages], ensure_ascii=False, sort_keys=True)
    return f"{kind[0]}-{hashlib.sha1(raw.encode()).hexdigest()[:10]}"


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: not JSON ({e.msg})", "rebuild it with `twinforge dataset`") from e
    return out


def dataset_folder(store: Store, name: str) -> Path:
    return store.ws.dataset(name)


def split_examples(store: Store, dataset: str) -> tuple[list[dict], list[dict]]:
    """(train, held-out) examples; held-out = val.jsonl examples whose conversation is not in train.jsonl."""
    folder = dataset_folder(store, dataset)
    train = _read_jsonl(folder / "train.jsonl")
    val = _read_jsonl(folder / "val.jsonl")
    seen = {(e.get("meta") or {}).get("conversation_id") for e in train}
    held = [e for e in val if (e.get("meta") or {}).get("conversation_id") not in seen or not seen - {None}]
    return train, held


def heldout_probes(store: Store, dataset: str) -> list[Probe]:
    """One probe per held-out example, questions the person asked (view `qa`) first."""
    _, held = split_examples(store, dataset)
    held.sort(key=lambda e: (0 if (e.get("meta") or {}).get("view") == "qa" else 1))
    out = []
    for e in held:
        msgs = e.get("messages") or []
        if len(msgs) < 2 or msgs[-1].get("role") != "assistant":
            continue
        prompt = [{"role": m["role"], "content": m["content"]} for m in msgs[:-1]]
        meta = e.get("meta") or {}
        out.append(Probe(probe_id("heldout", prompt), "heldout", prompt, detect(prompt[-1]["content"]),
                         reference=msgs[-1]["content"], module_id=meta.get("module_id"),
                         conversation_id=meta.get("conversation_id")))
    return out


def _dataset_module_ids(store: Store, dataset: str) -> set[str]:
    folder = dataset_folder(store, dataset)
    ids = set()
    for name in ("train.jsonl", "val.jsonl"):
        ids |= {(e.get("meta") or {}).get("module_id") for e in _read_jsonl(folder / name)}
    return ids - {None}


def module_probes(store: Store, dataset: str | None = None, module_ids: set[str] | None = None) -> list[Probe]:
    """A concept question and an inversion request per module (the dataset's modules when it names any)."""
    from ..distill.schema import Module

    wanted = module_ids if module_ids is not None else (_dataset_module_ids(store, dataset) if dataset else set())
    out = []
    for row in store.module_records():
        if wanted and row.id not in wanted:
            continue
        out += probes_for_module(Module.model_validate(row.data))
    return out


def probes_for_module(m) -> list[Probe]:
    """The concept question and inversion request of one module (a distilled one, or a hand-written scene)."""
    from ..expand.templates import load as load_templates
    from ..expand.templates import pick

    tpl = load_templates(m.language)
    out = []
    if m.concepts:
        concept = m.concepts[pick(0, m.id, "eval-concept") % len(m.concepts)]
        ask = tpl.ask("concept", "ask", pick(1, m.id), concept=concept, title=m.title)
        msgs = [{"role": "user", "content": ask}]
        out.append(Probe(probe_id("concept", msgs), "concept", msgs, m.language, concepts=list(m.concepts),
                         module_id=m.id, conversation_id=m.conversation_id))
    if m.phrase:
        ask = tpl.ask("inversion", "ask", pick(2, m.id), phrase=m.phrase, title=m.title)
        msgs = [{"role": "user", "content": ask}]
        out.append(Probe(probe_id("inversion", msgs), "inversion", msgs, m.language, concepts=list(m.concepts),
                         module_id=m.id, conversation_id=m.conversation_id))
    return out


def user_probes(path: str | Path) -> list[Probe]:
    """Probes from YAML: a list (or `probes:` list) of strings or {prompt | messages, concepts, language, id}."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"probes file {p} not found") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML ({str(e).splitlines()[0]})") from e
    if isinstance(data, dict):
        data = data.get("probes")
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{p}: expected a non-empty list of probes",
                          "write `- prompt: ...` items (optional: concepts, language, id, system)")
    out = []
    for n, item in enumerate(data, 1):
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{p}: probe {n} is a {type(item).__name__}", "each probe is a string or a mapping")
        unknown = set(item) - {"id", "prompt", "messages", "concepts", "language", "system", "reference"}
        if unknown:
            raise ConfigError(f"{p}: probe {n}: unknown key(s) {', '.join(sorted(unknown))}",
                              "allowed: id, prompt, messages, concepts, language, system, reference")
        if "messages" in item:
            msgs = item["messages"]
            if (not isinstance(msgs, list) or not msgs
                    or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in msgs)):
                raise ConfigError(f"{p}: probe {n}: messages must be a list of {{role, content}}")
            msgs = [{"role": str(m["role"]), "content": str(m["content"])} for m in msgs]
        elif isinstance(item.get("prompt"), str) and item["prompt"].strip():
            msgs = [{"role": "user", "content": item["prompt"].strip()}]
        else:
            raise ConfigError(f"{p}: probe {n} has no prompt", "give `prompt: text` or `messages: [...]`")
        if item.get("system"):
            msgs = [{"role": "system", "content": str(item["system"])}, *msgs]
        concepts = item.get("concepts") or []
        if not isinstance(concepts, list):
            raise ConfigError(f"{p}: probe {n}: concepts must be a list")
        last = next((m["content"] for m in reversed(msgs) if m["role"] == "user"), msgs[-1]["content"])
        out.append(Probe(str(item.get("id") or probe_id("user", msgs)), "user", msgs,
                         str(item.get("language") or detect(last)), concepts=[str(c) for c in concepts],
                         reference=item.get("reference")))
    ids = [x.id for x in out]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{p}: probe ids repeat", "give each probe a distinct id")
    return out


def spread(groups: list[list[Probe]], limit: int) -> list[Probe]:
    """Up to `limit` probes taking from each group in turn, so no source crowds the others out."""
    out: list[Probe] = []
    seen: set[str] = set()
    queues = [list(g) for g in groups if g]
    while queues and len(out) < limit:
        for q in list(queues):
            while q and q[0].id in seen:
                q.pop(0)
            if not q:
                queues.remove(q)
                continue
            p = q.pop(0)
            seen.add(p.id)
            out.append(p)
            if len(out) >= limit:
                break
    return out


def build_probes(store: Store, dataset: str, probes_file: str | None, max_probes: int,
                 scenes: list | None = None) -> list[Probe]:
    """Your probes first, then held-out questions, concept and inversion requests in turn; then a concept and an
    inversion probe for each of `scenes` (modules evaluated adapters learned) that has none yet, whatever
    max_probes cut: a scene written by hand is in no dataset, and its own-scene coverage needs them."""
    mods = module_probes(store, dataset)
    groups = [user_probes(probes_file) if probes_file else [], heldout_probes(store, dataset),
              [p for p in mods if p.kind == "concept"], [p for p in mods if p.kind == "inversion"]]
    probes = spread([groups[0]], max_probes) if groups[0] else []
    probes += spread(groups[1:], max_probes - len(probes))
    have, ids = {p.module_id for p in probes}, {p.id for p in probes}
    for m in scenes or []:
        if m.id not in have:
            have.add(m.id)
            probes += [p for p in probes_for_module(m) if p.id not in ids]
    if not probes:
        raise ConfigError(f"no probes: dataset {dataset!r} has no held-out examples and no modules",
                          "build one with `twinforge dataset`, or pass --probes FILE")
    return probes
