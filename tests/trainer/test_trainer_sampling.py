"""Negative and positive sampling: the distributions are checked statistically (fixed seeds).

Tolerances are several standard errors wide, so the tests are stable for the seeds used yet fail
for a wrong power, a missed exclusion, or a strategy that ignores the next photo's labels.
"""

from __future__ import annotations

import numpy as np
import pytest

from trainer.sampling import NegativeSampler, batch_negatives, fix_collisions, next_image_negatives, sample_positives


def _chi2(observed: np.ndarray, expected_p: np.ndarray) -> float:
    n = observed.sum()
    exp = expected_p * n
    return float(((observed - exp) ** 2 / exp).sum())


def test_draws_follow_freq_to_the_power() -> None:
    freq = np.array([1000, 300, 100, 30, 10, 3, 1], dtype=np.int64)
    for power in (0.75, 1.0, 0.0):
        s = NegativeSampler(freq, power)
        draws = s.draw(np.random.default_rng(1), 200_000)
        counts = np.bincount(draws, minlength=len(freq))
        p = freq**power / (freq**power).sum()
        # 6 degrees of freedom: chi2 > 30 has p < 5e-5
        assert _chi2(counts, p) < 30, (power, counts / counts.sum(), p)
    # and the wrong power is clearly rejected
    wrong = freq**1.0 / (freq**1.0).sum()
    counts = np.bincount(NegativeSampler(freq, 0.75).draw(np.random.default_rng(2), 200_000), minlength=7)
    assert _chi2(counts, wrong) > 1000


def test_presampled_pool_never_contains_own_tags_and_keeps_distribution() -> None:
    freq = np.array([500, 200, 100, 50, 20, 10], dtype=np.int64)
    s = NegativeSampler(freq, 0.75)
    rng = np.random.default_rng(3)
    tags = [np.array([0]), np.array([0, 1]), np.array([2, 3, 4]), np.array([5])] * 500
    pool = s.pool(rng, len(tags), 8)
    neg, valid = batch_negatives("presampled", rng, s, tags, 8, pool)
    assert valid.all()
    for i, t in enumerate(tags):
        assert not np.isin(neg[i], t).any()
    # Photos tagged only {5}: their negatives follow freq^0.75 restricted to tags 0..4.
    rows = np.concatenate([neg[i] for i in range(3, len(tags), 4)])
    p = freq[:5] ** 0.75 / (freq[:5] ** 0.75).sum()
    assert _chi2(np.bincount(rows, minlength=6)[:5], p) < 25


def test_next_image_takes_the_next_photos_labels_weighted_to_the_power() -> None:
    freq = np.array([400, 100, 25, 50], dtype=np.int64)
    s = NegativeSampler(freq, 0.75)
    tags = [np.array([3]), np.array([0, 1, 2])] * 4000
    neg, valid = next_image_negatives(np.random.default_rng(4), s, tags, 2)
    assert valid.all()
    # Photo i's negatives are the labels of photo i+1, never its own.
    odd = neg[1::2]
    even = neg[0::2]
    assert set(np.unique(odd)) == {3}
    assert set(np.unique(even)) <= {0, 1, 2}
    # Within the next photo's labels, each is drawn with weight freq^(power-1).
    w = freq[:3] ** (0.75 - 1.0)
    p = w / w.sum()
    assert _chi2(np.bincount(even.ravel(), minlength=3), p) < 20
    # Over a stream, a tag occurs as a next-photo label ~ freq, so negatives follow freq^power:
    # with power 1 the weights are uniform over the next photo's labels.
    neg1, _ = next_image_negatives(np.random.default_rng(5), NegativeSampler(freq, 1.0), tags, 2)
    assert _chi2(np.bincount(neg1[0::2].ravel(), minlength=3), np.full(3, 1 / 3)) < 20


def test_next_image_walks_past_photos_that_share_all_tags() -> None:
    freq = np.array([10, 10, 10], dtype=np.int64)
    s = NegativeSampler(freq, 0.75)
    tags = [np.array([0]), np.array([0]), np.array([1, 2])]
    neg, valid = next_image_negatives(np.random.default_rng(0), s, tags, 5)
    assert valid.all()
    assert set(neg[0]) <= {1, 2}  # photo 1 has only tag 0 (its own), so photo 2's labels are used
    assert set(neg[2]) == {0}


def test_unfixable_collisions_are_masked_not_used() -> None:
    s = NegativeSampler(np.array([10, 1], dtype=np.int64), 0.75)
    neg, valid = fix_collisions(np.random.default_rng(0), s, np.zeros((1, 4), np.int64), [np.array([0, 1])])
    assert not valid.any()  # every tag is the photo's own: nothing may count as a negative


def test_positives_are_uniform_over_own_tags() -> None:
    tags = [np.array([7, 3, 9])] * 3000
    pos = sample_positives(np.random.default_rng(6), tags, 2)
    counts = np.array([(pos == t).sum() for t in (7, 3, 9)])
    assert set(np.unique(pos)) == {3, 7, 9}
    assert _chi2(counts, np.full(3, 1 / 3)) < 20


def test_unknown_strategy_is_refused() -> None:
    s = NegativeSampler(np.array([1, 2]), 0.75)
    with pytest.raises(ValueError):
        batch_negatives("magic", np.random.default_rng(0), s, [np.array([0])], 1)
