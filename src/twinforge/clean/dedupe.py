"""Exact and near-duplicate messages, fast enough for 100k messages in a few seconds.

Both compare texts as `normalize` writes them: NFKC, case folded, words only (letters and digits; punctuation,
markdown, emoji and spacing dropped). Exact duplicates have the same normalized text. Near duplicates (a
regenerated answer, a pasted text with a few words changed) share most of their word 5-grams ("shingles"): the
Jaccard similarity of the two shingle sets, |A ∩ B| / |A ∪ B|, is at least the threshold.

How it stays fast without a compiled extension — every step is a few numpy passes over a batch of texts:

1. words: a batch of texts becomes one array of code points (UTF-32); lookup tables fold case and mark word
   characters; each word gets a 64-bit polynomial hash from prefix sums (no Python object per word).
2. shingles: the hash of k consecutive words of one text, from the word hashes shifted and combined.
3. MinHash by one-permutation hashing: each shingle hash picks one of `num_perm` bins with its high bits and
   offers its low 32 bits as that bin's value; a text's signature is the minimum per bin. Empty bins borrow
   from a non-empty bin chosen by a probe sequence that is the same for every text ("optimal densification",
   Shrivastava 2017), which keeps P[two signatures agree in a bin] = Jaccard. One hash per shingle instead of
   `num_perm`: this is what makes it fast.
4. LSH: signatures cut into b bands of r rows; texts that agree on a whole band are candidates. (b, r) is chosen
   the way datasketch chooses it, but weighted toward recall since candidates are verified: 16 × 8 for 0.8.
5. verification: a candidate pair counts when its estimated Jaccard (the share of agreeing bins) reaches the
   threshold; union-find joins the pairs into clusters.

Results depend only on the texts, their order and the parameters (seed included), never on the process.
Measured (bench/clean.py, 100k messages, 212 M characters, 2 cores): exact_groups ~3 s, NearDuplicates.groups
~3.5 s, planted near-duplicate recall 0.98 at precision 1.0; datasketch MinHash + MinHashLSH: ~74 s, recall 0.92.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["NearDuplicates", "exact_groups", "normalize"]

_U64 = np.uint64
_EMPTY = np.uint32(0xFFFFFFFF)  # an empty bin; real values are capped one below
_BATCH_CHARS = 1 << 20  # texts are processed in batches of about this many characters (~30 bytes of arrays each)
_WORD = re.compile(r"[^\W_]+")  # letters and digits in any script: the same set as str.isalnum()


# ----------------------------------------------------------------------------------------------------------------
# Normalizing


@functools.cache
def _tables() -> tuple[dict[int, str], np.ndarray, np.ndarray]:
    """Case folding one code point to one code point, as a str.translate table and as an array; and an array that
    marks the code points `_WORD` matches. Built once per process (~0.3 s)."""
    fold_map: dict[int, str] = {}
    for cp in range(0x110000):
        c = chr(cp)
        f = c.casefold()
        if len(f) != 1:  # ß → ss, ﬁ → fi: keep one code point per code point, so lengths stay put
            f = c.lower()
        if len(f) == 1 and f != c:
            fold_map[cp] = f
    fold = np.arange(0x110000, dtype=np.uint32)
    fold[list(fold_map)] = [ord(f) for f in fold_map.values()]
    cps = np.arange(0x110000, dtype=np.uint32)
    every = cps[(cps < 0xD800) | (cps >= 0xE000)].tobytes().decode("utf-32-le")  # every code point but surrogates
    word = np.zeros(0x110000, dtype=bool)
    word[np.frombuffer("".join(_WORD.findall(every)).encode("utf-32-le"), dtype=np.uint32)] = True
    return fold_map, fold, word


def warm() -> None:
    """Build the lookup tables now (before worker processes fork, so they share them)."""
    _tables()


def normalize(text: str) -> str:
    """What exact-duplicate detection compares: NFKC, case folded, only the words (letters and digits), joined by
    single spaces. Punctuation, markdown, emoji, underscores and spacing are dropped: "**Привет,  мир!** 🧠"
    and "привет мир" are the same. The word lists the near-duplicate shingles come from are exactly these."""
    fold_map = _tables()[0]
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).translate(fold_map)))


# ----------------------------------------------------------------------------------------------------------------
# Hashing, vectorised (numpy unsigned arithmetic wraps modulo 2**64, which the hashes rely on)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every output bit depends on every input bit."""
    x = x ^ (x >> _U64(30))
    x *= _U64(0xBF58476D1CE4E5B9)
    x ^= x >> _U64(27)
    x *= _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _constants(n: int, salt: int) -> np.ndarray:
    """n well-mixed odd 64-bit constants, fixed for a salt."""
    x = (np.arange(1, n + 1, dtype=_U64) + _U64(salt & 0xFFFFFFFF) * _U64(0x100000001)) * _U64(0x9E3779B97F4A7C15)
    return _mix(x) | _U64(1)


_BASE = 0x9E3779B97F4A7C15  # odd, hence invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**i and BASE**-i (mod 2**64) for i < n: cached at the usual batch size, made anew for a huge text."""
    return _powers_of(2 * _BATCH_CHARS) if n <= 2 * _BATCH_CHARS else _powers_of.__wrapped__(n)


@functools.cache
def _powers_of(n: int) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for base in (_BASE, _BASE_INV):
        p = np.full(n, base, dtype=_U64)
        p[0] = 1
        out.append(np.multiply.accumulate(p))
    return out[0], out[1]


def _word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of every word of texts (already NFKC), back to back, and how many words each text has."""
    _, fold, word = _tables()
    cps = fold[np.frombuffer("\n".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)]
    inside = word[cps]
    edges = np.diff(inside.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    # polynomial hash of cps[s:e] = sum cps[j] * BASE**-(j - s), from one prefix sum over the batch
    n = len(cps)
    pw, pw_inv = _powers(n)
    prefix = np.zeros(n + 1, dtype=_U64)
    np.cumsum(cps * pw_inv[:n], out=prefix[1:])
    hashes = _mix((prefix[ends] - prefix[starts]) * pw[starts] + (ends - starts).astype(_U64))
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    text_starts = np.cumsum(lengths) - lengths
    counts = np.diff(np.searchsorted(starts, text_starts), append=len(starts))
    return hashes, counts


def _batches(texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(index of the batch's first text, word hashes, words per text) over texts in batches of ~_BATCH_CHARS."""
    batch: list[str] = []
    first = size = 0
    for i, text in enumerate(texts):
        t = unicodedata.normalize("NFKC", text)
        batch.append(t)
        size += len(t) + 1
        if size >= _BATCH_CHARS:
            yield first, *_word_hashes(batch)
            batch, first, size = [], i + 1, 0
    if batch:
        yield first, *_word_hashes(batch)


# ----------------------------------------------------------------------------------------------------------------
# Exact duplicates


def exact_keys(texts: Sequence[str]) -> list[tuple[int, int, int] | None]:
    """A 192-bit key per text (its word count and two position-salted sums of its word hashes): equal keys mean
    equal normalized text. None for texts that normalize to nothing (emoji, punctuation): never duplicates.
    Computed from the same word hashes as the near-duplicate shingles; no normalized string is built."""
    out: list[tuple[int, int, int] | None] = [None] * len(texts)
    salt1, salt2 = _constants(2, 0x5EED)
    for first, hashes, counts in _batches(texts):
        text_of = np.repeat(np.arange(len(counts)), counts)
        offsets = np.concatenate(([0], np.cumsum(counts)))
        position = (np.arange(len(hashes)) - offsets[text_of]).astype(_U64)
        sums = []
        for salt in (salt1, salt2):
            cum = np.zeros(len(hashes) + 1, dtype=_U64)
            np.cumsum(_mix(hashes ^ _mix(position * salt)), out=cum[1:])
            sums.append(cum[offsets[1:]] - cum[offsets[:-1]])
        for j, key in enumerate(zip(counts.tolist(), sums[0].tolist(), sums[1].tolist())):
            if key[0]:
                out[first + j] = key
    return out


def exact_groups(items: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Groups (two or more) of ids whose texts normalize to the same non-empty text, ids in input order, groups
    ordered by their first member."""
    return [[items[i][0] for i in ix] for ix in group_keys(exact_keys([t for _, t in items]))]


def group_keys(keys: Sequence) -> list[list[int]]:
    """Indexes grouped by equal non-None key (groups of two or more), in input order."""
    by_key: dict = {}
    for i, key in enumerate(keys):
        if key is not None:
            by_key.setdefault(key, []).append(i)
    groups = [ix for ix in by_key.values() if len(ix) > 1]
    groups.sort(key=lambda ix: ix[0])
    return groups


# ----------------------------------------------------------------------------------------------------------------
# Near duplicates


@functools.cache
def _lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) minimising 0.05 × the false-positive area below the threshold + 0.95 × the
    false-negative area above it, the integrals datasketch's MinHashLSH uses (it weighs both 0.5). Candidates
    are verified, so a missed pair costs far more than a checked one: for 0.8 and 128 this gives 16 × 8, which
    makes a pair at J = 0.8 a candidate with probability 0.95 (datasketch's 9 × 13: 0.40; at J = 0.85, 0.69)."""
    best, best_err = (1, num_perm), float("inf")
    lo = np.linspace(0.0, threshold, 201)
    hi = np.linspace(threshold, 1.0, 201)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - lo**r) ** b, lo)
            fn = np.trapezoid((1 - hi**r) ** b, hi)
            err = 0.05 * fp + 0.95 * fn
            if err < best_err:
                best, best_err = (b, r), err
    return best


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the earlier item is the root


class NearDuplicates:
    """Clusters of near-duplicate texts: word-shingle Jaccard >= threshold, estimated by MinHash + LSH.

    threshold  estimated Jaccard of two texts' shingle sets to call them near duplicates
    num_perm   MinHash signature length (bins); the estimate's standard error is about sqrt(J(1-J)/num_perm)
    shingle    words per shingle
    min_words  texts with fewer words (after normalize) are not candidates: too short to judge
    seed       fixes the hashing; the same seed gives the same result
    """

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, shingle: int = 5, min_words: int = 8,
                 seed: int = 1):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if num_perm < 2 or shingle < 1 or min_words < 1:
            raise ValueError(f"need num_perm >= 2, shingle >= 1, min_words >= 1; got {num_perm}, {shingle}, "
                             f"{min_words}")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle = shingle
        self.min_words = min_words
        self.seed = seed
        self.bands, self.rows = _lsh_bands(threshold, num_perm)
        self._coef = _constants(shingle, seed)  # one multiplier per word position in a shingle
        self._salt = _constants(3, seed ^ 0xABCDEF)  # shingle salt, densification probes, band hashing

    # -- signatures

    def _shingles(self, hashes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of all shingles of a batch and the index (in the batch) of the text each comes from. A candidate
        with fewer words than `shingle` (possible when min_words < shingle) is one shingle of all its words."""
        k, n = self.shingle, len(hashes)
        text_of = np.repeat(np.arange(len(counts)), counts)
        out_h, out_t = [], []
        if n >= k:
            h = hashes[: n - k + 1] * self._coef[0]
            for i in range(1, k):
                h += hashes[i : n - k + 1 + i] * self._coef[i]
            whole = text_of[: n - k + 1] == text_of[k - 1 :]  # the shingle's words all belong to one text
            out_h.append(h[whole])
            out_t.append(text_of[: n - k + 1][whole])
        offsets = np.concatenate(([0], np.cumsum(counts)))
        for j in np.flatnonzero((counts >= self.min_words) & (counts < k)):
            words = hashes[offsets[j] : offsets[j + 1]]
            out_h.append(np.array([(words * self._coef[: len(words)]).sum()], dtype=_U64))
            out_t.append(np.array([j]))
        if not out_h:
            return np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64)
        return _mix(np.concatenate(out_h) ^ self._salt[0]), np.concatenate(out_t)

    def _signatures(self, shingles: np.ndarray, rows: np.ndarray, n_rows: int) -> np.ndarray:
        """(n_rows, num_perm) uint32 one-permutation MinHash signatures, densified."""
        m = self.num_perm
        bins = ((shingles >> _U64(32)) * _U64(m)) >> _U64(32)  # high half picks the bin, uniformly for any m
        values = np.minimum((shingles & _U64(0xFFFFFFFF)).astype(np.uint32), _EMPTY - np.uint32(1))
        sig = np.full(n_rows * m, _EMPTY, dtype=np.uint32)
        np.minimum.at(sig, rows * m + bins.astype(np.int64), values)
        sig = sig.reshape(n_rows, m)
        # densification: an empty bin takes the value of the first non-empty bin its probe sequence reaches
        empty = sig == _EMPTY
        r, c = np.nonzero(empty & ~empty.all(axis=1, keepdims=True))
        attempt = 0
        while len(r):
            attempt += 1
            probe = (_mix((c.astype(_U64) << _U64(32)) + _U64(attempt) + self._salt[1]) % _U64(m)).astype(np.int64)
            found = ~empty[r, probe]
            sig[r[found], c[found]] = sig[r[found], probe[found]]
            r, c = r[~found], c[~found]
        return sig

    def signatures(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """MinHash signatures (num_perm uint32 each) of the texts that are candidates, and their indexes in
        texts. A text is a candidate when it has at least min_words words."""
        sigs, index = [], []
        for first, hashes, counts in _batches(texts):
            keep = counts >= self.min_words
            if not keep.any():
                continue
            shingles, text_of = self._shingles(hashes, counts)
            row_of = np.cumsum(keep) - 1  # batch text -> row among this batch's candidates
            mine = keep[text_of]
            sigs.append(self._signatures(shingles[mine], row_of[text_of[mine]], int(keep.sum())))
            index.append(first + np.flatnonzero(keep))
        if not sigs:
            return np.zeros((0, self.num_perm), dtype=np.uint32), np.zeros(0, dtype=np.int64)
        return np.concatenate(sigs), np.concatenate(index)

    def similarity(self, a: str, b: str) -> float:
        """Estimated Jaccard similarity of two texts' shingle sets (0.0 when either is shorter than min_words)."""
        sig, index = self.signatures([a, b])
        return float((sig[0] == sig[1]).mean()) if len(index) == 2 else 0.0

    # -- candidates and clusters

    def _candidate_pairs(self, sig: np.ndarray) -> np.ndarray:
        """(n, 2) row pairs (i < j) that agree on at least one whole band, each pair once. Within a bucket of
        equal bands every row is paired with the bucket's first row and with the row before it, so a bucket
        of many copies costs linear, not quadratic, pairs."""
        n = len(sig)
        pairs = []
        coef = _constants(self.rows, int(self._salt[2] & _U64(0xFFFFFFFF)))
        for band in range(self.bands):
            cols = sig[:, band * self.rows : (band + 1) * self.rows].astype(_U64)
            key = _mix((cols * coef).sum(axis=1, dtype=_U64) + _U64(band))
            order = np.argsort(key, kind="stable")  # equal keys stay in row order
            key = key[order]
            same = key[1:] == key[:-1]
            if not same.any():
                continue
            run_start = np.maximum.accumulate(np.where(np.concatenate(([True], ~same)), np.arange(n), 0))
            later = np.flatnonzero(np.concatenate(([False], same)))
            pairs.append(np.stack([order[run_start[later]], order[later]], axis=1))  # first of the bucket
            pairs.append(np.stack([order[later - 1], order[later]], axis=1))  # the one before
        if not pairs:
            return np.zeros((0, 2), dtype=np.int64)
        p = np.concatenate(pairs)
        p = np.stack([p.min(axis=1), p.max(axis=1)], axis=1)
        p = p[p[:, 0] != p[:, 1]]
        return np.unique(p, axis=0)

    @staticmethod
    def _agreement(sig: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of row pairs (a[i], b[i]): the share of bins where the signatures agree."""
        out = np.empty(len(a), dtype=np.float64)
        step = 1 << 16
        for s in range(0, len(a), step):
            out[s : s + step] = (sig[a[s : s + step]] == sig[b[s : s + step]]).mean(axis=1)
        return out

    def groups(self, items: Sequence[tuple[str, str]]) -> list[list[tuple[str, float]]]:
        """Clusters (two or more) of near-duplicate items. Each member comes with its estimated Jaccard
        similarity to the cluster's first member (1.0 for the first itself); members in input order, clusters
        ordered by their first member. Exact duplicates (Jaccard 1) are clustered too. Membership is
        transitive: a member joined through another may be less similar than the threshold to the first."""
        sig, index = self.signatures([t for _, t in items])
        return [[(items[index[r]][0], sim) for r, sim in cluster] for cluster in self.clusters(sig)]

    def clusters(self, sig: np.ndarray) -> list[list[tuple[int, float]]]:
        """`groups` over precomputed signatures (rows of `sig`, e.g. gathered batch by batch): clusters of
        (row, estimated Jaccard to the cluster's first row)."""
        pairs = self._candidate_pairs(sig)
        if not len(pairs):
            return []
        est = self._agreement(sig, pairs[:, 0], pairs[:, 1])
        uf = _UnionFind()
        for a, b in pairs[est >= self.threshold - 1e-9].tolist():
            uf.union(a, b)
        clusters: dict[int, list[int]] = {}
        for row in sorted(uf.parent):
            clusters.setdefault(uf.find(row), []).append(row)
        out = []
        for root in sorted(clusters):
            rows = np.array(sorted(clusters[root]))  # row order is input order
            sims = self._agreement(sig, np.full(len(rows), rows[0]), rows)
            out.append([(r, float(s)) for r, s in zip(rows.tolist(), sims.tolist())])
        return out
