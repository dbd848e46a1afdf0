"""The ImageNet classifier as a teacher: its class probabilities become soft labels for the class words and,
summed along WordNet, for their general words."""

from __future__ import annotations

import numpy as np
import torch

from trainer.teacher import soft_counts, teacher_loss, teacher_words

CLASSES = [
    ("tabby", ("cat", "animal")),
    ("siamese cat", ("cat", "animal")),
    ("golden retriever", ("dog", "animal")),
    ("pickup", ("truck", "vehicle")),
]
INDEX = {w: i for i, w in enumerate(["sky", "tabby", "siamese cat", "golden retriever", "pickup", "cat", "animal",
                                     "dog", "truck", "vehicle"])}  # fmt: skip


def col(tw, word: str) -> int:
    return int(np.searchsorted(tw.word_ids, INDEX[word]))


def test_general_words_add_up_their_classes() -> None:
    tw = teacher_words(CLASSES, INDEX)
    assert INDEX["sky"] not in tw.word_ids and len(tw.word_ids) == 9  # only words the teacher speaks for
    p = np.array([[0.5, 0.3, 0.2, 0.0]])
    target = tw.targets(np.log(p + 1e-12))
    assert np.isclose(target[0, col(tw, "tabby")], 0.5, atol=1e-4)
    assert np.isclose(target[0, col(tw, "cat")], 0.8, atol=1e-4)  # tabby + siamese
    assert np.isclose(target[0, col(tw, "animal")], 1.0, atol=1e-4)  # capped at one
    assert target[0, col(tw, "vehicle")] < 1e-4
    counts = soft_counts(tw, np.log(np.array([[0.5, 0.3, 0.2, 0.0], [0.0, 0.0, 0.0, 1.0]]) + 1e-12))
    assert np.isclose(counts[col(tw, "animal")], 1.0, atol=1e-3) and np.isclose(
        counts[col(tw, "truck")], 1.0, atol=1e-3
    )


def test_the_loss_pulls_scores_toward_the_teacher() -> None:
    """A few steps of the soft-label sigmoid loss move sigmoid(v . f) toward the teacher's probabilities."""
    torch.manual_seed(0)
    tw = teacher_words(CLASSES, INDEX)
    target = torch.from_numpy(tw.targets(np.log(np.array([[0.05, 0.05, 0.85, 0.05]]))))
    emb = torch.randn(1, 8)
    w = torch.zeros(len(tw.word_ids), 8, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.05)
    for _ in range(200):
        opt.zero_grad()
        teacher_loss(emb, w, target).backward()
        opt.step()
    got = torch.sigmoid(emb @ w.detach().t())[0]
    assert abs(float(got[col(tw, "dog")]) - float(target[0, col(tw, "dog")])) < 0.05
    assert float(got[col(tw, "dog")]) > 0.8 > 0.2 > float(got[col(tw, "truck")])


def test_general_words_are_told_from_class_names() -> None:
    tw = teacher_words(CLASSES, INDEX)
    general = {w for w, i in INDEX.items() if i in set(tw.word_ids[tw.general].tolist())}
    assert general == {"cat", "animal", "dog", "truck", "vehicle"}
