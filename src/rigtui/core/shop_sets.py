"""Every card set a budget buys, with the sums and bounds the shop ranks them by, in numpy.

A catalog of 40 priced cards has over 100,000 sets of up to four cards. The shop therefore
computes the price sum, the memory sum and the decode bound of every set at once. Each figure takes the same floating-point steps in the same order as the scalar
code in ``rigtui.core.shop`` (``decode_bound_of``), so both give the same bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NO_CARD = -1
"""Index that pads a set shorter than the longest."""


@dataclass(frozen=True)
class CardArrays:
    """Per-card figures of the decode bound, one entry per card, as in ``shop._CardBound``."""

    bytes_per_s: np.ndarray
    capacity: np.ndarray
    token_overhead_ms: np.ndarray
    layer_overhead_us: np.ndarray


def affordable_sets(prices: np.ndarray, budget: float, max_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return every multiset of up to ``max_count`` cards whose prices sum within ``budget``.

    ``prices`` must be in ascending order. The sets come as rows of card indexes in ascending
    order, padded with ``NO_CARD``, in depth-first order: each set before the sets that extend
    it, and sets that share a beginning in the order of their next card. The second array is
    each set's price sum, added in the order of its cards.
    """
    n = len(prices)
    if n == 0 or max_count <= 0:
        return np.full((0, max(max_count, 0)), NO_CARD, dtype=np.int64), np.zeros(0)
    rows = np.nonzero(prices <= budget)[0][:, None]
    sums = prices[rows[:, 0]]
    levels = []
    while rows.shape[0]:
        levels.append((rows, sums))
        if rows.shape[1] == max_count:
            break
        # Extend every set with each card from its last one on that the budget still reaches.
        extend = (np.arange(n)[None, :] >= rows[:, -1:]) & (sums[:, None] + prices[None, :] <= budget)
        parent, card = np.nonzero(extend)
        rows = np.concatenate([rows[parent], card[:, None]], axis=1)
        sums = sums[parent] + prices[card]
    if not levels:
        return np.full((0, max_count), NO_CARD, dtype=np.int64), np.zeros(0)
    padded = [np.pad(r, ((0, 0), (0, max_count - r.shape[1])), constant_values=NO_CARD) for r, _ in levels]
    sets = np.concatenate(padded)
    totals = np.concatenate([s for _, s in levels])
    # NO_CARD sorts before every card, so a set comes before the sets that extend it.
    order = np.lexsort(tuple(sets[:, column] for column in reversed(range(max_count))))
    return sets[order], totals[order]


def column_sums(sets: np.ndarray, per_card: np.ndarray, start: float) -> np.ndarray:
    """Add ``per_card`` over each set's cards to ``start``, one card after the other."""
    values = np.append(per_card, 0.0)
    total = np.full(sets.shape[0], start, dtype=float)
    for column in range(sets.shape[1]):
        total = total + values[sets[:, column]]
    return total


def turn_taking_bounds(
    sets: np.ndarray,
    kept: CardArrays,
    cards: CardArrays,
    *,
    read_bytes: float,
    output_read_bytes: float,
    read_density: float,
    compute_bytes: float,
    cpu_bytes_per_s: float,
    token_overhead_ms: float,
    layer_overhead_us: float,
    n_layers: int,
    routed_read_bytes: float = 0.0,
    routed_density: float = 0.0,
) -> np.ndarray:
    """Return ``decode_bound_of(...).turn_taking`` for the kept cards plus each set, tokens/s."""
    count = sets.shape[0]
    missing = sets == NO_CARD
    index = np.where(missing, 0, sets)

    def table(kept_values: np.ndarray, card_values: np.ndarray, pad: float) -> np.ndarray:
        bought = np.where(missing, pad, card_values[index])
        return np.concatenate([np.broadcast_to(kept_values, (count, len(kept_values))), bought], axis=1)

    # Padding sorts after every card and takes nothing.
    bps = table(kept.bytes_per_s, cards.bytes_per_s, -1.0)
    capacity = table(kept.capacity, cards.capacity, 0.0)
    token = table(kept.token_overhead_ms, cards.token_overhead_ms, np.inf)
    layer = table(kept.layer_overhead_us, cards.layer_overhead_us, np.inf)

    token_s = np.minimum(token.min(axis=1), token_overhead_ms) * 1e-3
    layer_s = np.minimum(layer.min(axis=1), layer_overhead_us) * 1e-6
    seconds = output_read_bytes / bps.max(axis=1)
    remaining = np.full(count, read_bytes - output_read_bytes - routed_read_bytes)
    routed_left = np.full(count, routed_read_bytes)
    # Fastest cards first; a stable sort keeps the order of equal cards, as ``sorted`` does.
    order = np.argsort(-bps, axis=1, kind="stable")
    bps = np.take_along_axis(bps, order, axis=1)
    capacity = np.take_along_axis(capacity, order, axis=1)
    for column in range(bps.shape[1]):
        real = bps[:, column] > 0
        room = np.maximum(0.0, capacity[:, column] - compute_bytes)
        taken = np.where(real, np.minimum(remaining, room * read_density), 0.0)
        routed_taken = np.zeros(count)
        if routed_read_bytes > 0:
            routed_taken = np.where(real, np.minimum(routed_left, np.maximum(0.0, room - taken / read_density) * routed_density), 0.0)
            routed_left = routed_left - routed_taken
        seconds = seconds + np.where(real, (taken + routed_taken) / np.where(real, bps[:, column], 1.0), 0.0)
        remaining = remaining - taken
    remaining = remaining + routed_left
    seconds = seconds + np.where(remaining > 0, remaining / cpu_bytes_per_s, 0.0)
    seconds = seconds + (n_layers * layer_s + token_s)
    return 1.0 / seconds
