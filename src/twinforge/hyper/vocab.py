"""The concept vocabulary: one token = one concept lemma, as a `tokenizers` WordLevel tokenizer saved to
`<ws>/hyper/tokenizer.json`, plus the corpus frequencies the encoder ranks salience by (`idf.json`).

Built from the training conversations only, so the held-out ones measure honestly how many of a new text's
concepts the vocabulary lacks. `vocab.json` records the comparison with Qwen's tokenizer on the same texts:
tokens per idea (one idea = one concept of the text's hyperphrase).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..text.tokens import count_tokens_batch
from .config import HyperConfig
from .corpus import documents, split
from .encode import Encoder, HyperError, Hyperphrase, Idf, candidates, hyper_dir

SPECIALS = ("[PAD]", "[UNK]")
SPLIT_PATTERN = r"[\s·|,;/]+"  # what separates concepts in a written hyperphrase (`parse` agrees)


def _build_tokenizer(lemmas: list[str]):
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    vocab = {t: i for i, t in enumerate([*SPECIALS, *lemmas])}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="removed")
    return tok


class ConceptTokenizer:
    """The saved WordLevel tokenizer, with the counts the report needs."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.vocabulary = {t for t in tokenizer.get_vocab() if t not in SPECIALS}
        self.unk_id = tokenizer.token_to_id("[UNK]")

    @classmethod
    def load(cls, path: Path) -> ConceptTokenizer:
        from tokenizers import Tokenizer

        if not path.is_file():
            raise HyperError(f"no concept tokenizer at {path}", "run `twinforge hyper vocab` first")
        return cls(Tokenizer.from_file(str(path)))

    def ids(self, concepts: list[str]) -> list[int]:
        if not concepts:
            return []
        return self.tok.encode(concepts, is_pretokenized=True).ids

    def count(self, h: Hyperphrase) -> int:
        return len(self.ids(h.concepts))

    def unknown(self, concepts: list[str]) -> int:
        return sum(i == self.unk_id for i in self.ids(concepts))


@dataclass
class VocabReport:
    documents: int
    train_documents: int
    heldout_documents: int
    size: int  # concept tokens (without the specials)
    tokenizer: str
    sample: int  # texts compared
    ideas: int  # concepts in their hyperphrases
    qwen_tokens_per_idea_text: float  # Qwen tokens of the original text per idea
    qwen_tokens_per_idea_hyper: float  # Qwen tokens of the hyperphrase per idea
    concept_tokens_per_idea: float  # concept-tokenizer tokens of the hyperphrase per idea (1 by construction)
    qwen_tokens_per_concept_word: float  # Qwen tokens to write one concept lemma
    heldout_oov: float | None  # share of held-out concepts the vocabulary lacks
    top: list[tuple[str, int]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def build_vocab(store, cfg: HyperConfig, progress: bool = False, sample: int = 400) -> VocabReport:
    docs = list(documents(store, cfg.modules))
    if not docs:
        raise HyperError(f"no kept dialog text in {store.workspace}", "check `twinforge clean` kept something")
    val = split({d.conversation_id for d in docs}, cfg.val_fraction, cfg.seed)
    train = [d for d in docs if d.conversation_id not in val]
    held = [d for d in docs if d.conversation_id in val]
    pos = frozenset(cfg.pos)
    counts: Counter[str] = Counter()
    df: Counter[str] = Counter()
    for d in tqdm(train, desc="concepts", unit="text", disable=not progress):
        found = candidates(d.text, pos, d.language)
        df.update(c[0] for c in found)
        counts.update({c[0]: c[2] for c in found})
    lemmas = sorted((w for w, n in counts.items() if n >= cfg.min_count), key=lambda w: (-counts[w], w))
    folder = hyper_dir(store)
    idf = Idf(len(train), dict(df))
    idf.save(folder / "idf.json")
    tok = _build_tokenizer(lemmas)
    path = folder / "tokenizer.json"
    tmp = path.with_suffix(".tmp")
    tok.save(str(tmp))
    tmp.replace(path)
    ctok = ConceptTokenizer(tok)

    # tokens per idea on the same texts: an even sample across the corpus, held-out texts included
    enc = Encoder(cfg, idf)
    step = max(1, len(docs) // sample)
    texts, hypers = [], []
    for d in docs[::step][:sample]:
        h = enc.encode(d.text, d.language) if d.text.strip() else None
        if h and h.concepts:
            texts.append(d.text)
            hypers.append(h)
    ideas = sum(len(h.concepts) for h in hypers)
    q_text = sum(count_tokens_batch(texts, threads=1))
    q_hyper = sum(count_tokens_batch([h.text for h in hypers], threads=1))
    c_hyper = sum(ctok.count(h) for h in hypers)
    words = list(dict.fromkeys(c for h in hypers for c in h.concepts))
    per_word = statistics.fmean(count_tokens_batch(words, threads=1)) if words else 0.0
    held_concepts = [c for d in held for h in [enc.encode(d.text, d.language)] for c in h.concepts]
    report = VocabReport(
        documents=len(docs), train_documents=len(train), heldout_documents=len(held), size=len(lemmas),
        tokenizer=str(path), sample=len(hypers), ideas=ideas,
        qwen_tokens_per_idea_text=round(q_text / ideas, 3) if ideas else 0.0,
        qwen_tokens_per_idea_hyper=round(q_hyper / ideas, 3) if ideas else 0.0,
        concept_tokens_per_idea=round(c_hyper / ideas, 3) if ideas else 0.0,
        qwen_tokens_per_concept_word=round(per_word, 3),
        heldout_oov=round(ctok.unknown(held_concepts) / len(held_concepts), 4) if held_concepts else None,
        top=[(w, counts[w]) for w in lemmas[:20]],
    )
    out = folder / "vocab.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(out)
    return report


def load_tokenizer(store) -> ConceptTokenizer:
    return ConceptTokenizer.load(store.ws.hyper / "tokenizer.json")
