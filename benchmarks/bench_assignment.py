"""Assignment of 1,000,000 debtors to 4 arms.

* ours: :func:`engine.assignment.assign` (salted SipHash via pandas, uniform, searchsorted);
* floor: the bare vectorised hash of the same ids, which any hash-based assignment must do;
* per-debtor loop: the obvious Python implementation, one ``hashlib`` digest and one scan of
  the cumulative weights per debtor.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from itertools import accumulate

import numpy as np

from benchmarks.harness import Comparison, best_of
from engine.assignment import assign, hash_ids

N = 1_000_000
ARMS = ("friendly_sms", "direct_collection", "no_action", "discount_nudge")
WEIGHTS = (0.55, 0.15, 0.15, 0.15)
SALT = "bench-salt"


def per_debtor_loop(ids: list[str]) -> tuple[list[str], list[float]]:
    edges = list(accumulate(WEIGHTS))
    arms: list[str] = []
    propensities: list[float] = []
    salt = SALT.encode()
    for debtor in ids:
        digest = hashlib.blake2b(debtor.encode(), key=salt, digest_size=8).digest()
        u = (int.from_bytes(digest, "big") >> 11) / float(1 << 53)
        index = min(bisect_right(edges, u), len(edges) - 1)
        arms.append(ARMS[index])
        propensities.append(WEIGHTS[index])
    return arms, propensities


def run() -> list[Comparison]:
    ids = np.array([f"D{i:010d}" for i in range(N)], dtype=object)
    as_list = ids.tolist()
    ours = best_of(lambda: assign(ids, salt=SALT, arm_keys=ARMS, weights=WEIGHTS))
    floor = best_of(lambda: hash_ids(ids, salt=SALT))
    loop = best_of(lambda: per_debtor_loop(as_list), repeat=2)
    name = f"assignment, {N:,} debtors x {len(ARMS)} arms"
    return [
        Comparison(name, ours, "bare vectorised hash (floor)", floor, floor=True),
        Comparison(name, ours, "per-debtor Python loop", loop),
    ]
