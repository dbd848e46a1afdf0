"""The pretrained ImageNet classifier as a teacher: soft labels for words no corpus here tags.

The classifier's class probabilities on a training photo are soft labels for the 1000 ImageNet class words
("tabby", "golden retriever", "pickup") and, summed along WordNet, for their general words ("cat", "dog",
"vehicle"): P(dog) is the sum of every dog breed's probability. The tower learns them with the Im2Vec
sigmoid loss, ``log sigma(v_w . f)`` weighted by the target and ``log sigma(-v_w . f)`` by its
complement, so the model names what the ImageNet network sees while the corpora teach their own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .data import Vocabulary
from .errors import TrainError


@dataclass
class TeacherWords:
    """Which vocabulary words the teacher speaks for, and how its classes add up to them."""

    word_ids: np.ndarray  # int64 [T]: vocabulary ids of the teacher's words, sorted
    class_to_word: np.ndarray  # float32 [C, T]: 1 where a class counts toward a word (its name, its ancestors)
    general: np.ndarray  # bool [T]: a general word (no class is named by it: "cat", "vehicle")

    def targets(self, logits: np.ndarray) -> np.ndarray:
        """float32 [N, T] soft labels from class logits [N, C]: a word's probability is the sum of its
        classes' probabilities (at most 1)."""
        z = logits.astype(np.float32)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return np.minimum(p @ self.class_to_word, 1.0)


def teacher_words(class_words: Sequence[tuple[str, Sequence[str]]], index: dict[str, int]) -> TeacherWords:
    """From each class's (name, general words) and the vocabulary's word -> id map (every word must be in it)."""
    ids = sorted({index[w] for name, general in class_words for w in (name, *general)})
    col = {t: j for j, t in enumerate(ids)}
    m = np.zeros((len(class_words), len(ids)), dtype=np.float32)
    for i, (name, general) in enumerate(class_words):
        for w in {name, *general}:
            m[i, col[index[w]]] = 1.0
    names = {index[name] for name, _ in class_words}
    return TeacherWords(np.asarray(ids, dtype=np.int64), m, np.array([t not in names for t in ids]))


def soft_counts(teacher: TeacherWords, logits: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """float64 [T]: each teacher word's expected number of photos (its frequency for the vocabulary)."""
    out = np.zeros(len(teacher.word_ids), dtype=np.float64)
    for i in range(0, len(logits), chunk):
        out += teacher.targets(logits[i : i + chunk]).sum(0)
    return out


def teacher_loss(emb: torch.Tensor, w: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft-label sigmoid cross-entropy over all teacher words, summed over words, mean over photos."""
    return F.binary_cross_entropy_with_logits(emb @ w.t(), target, reduction="sum") / emb.shape[0]


def imagenet_file(init: str) -> Path:
    """The weights file of ``--init imagenet:FILE`` (the teacher's classifier comes from it)."""
    if not init.startswith("imagenet:"):
        raise TrainError("--teacher imagenet needs --init imagenet:FILE (a MobileNetV2 .tflite or its conversion)")
    return Path(init.split(":", 1)[1])


def imagenet_classifier(init: str) -> torch.nn.Module:
    """The ImageNet classifier of ``--init imagenet:FILE`` (eval mode): the teacher itself."""
    from .tflite_import import load_imagenet_mobilenet_v2

    return load_imagenet_mobilenet_v2(imagenet_file(init)).classifier.eval()


def add_teacher_words(
    vocab: Vocabulary, init: str, up: int, keep: Callable[[str], bool], log: Callable[[str], None]
) -> tuple[Vocabulary, TeacherWords]:
    """The ImageNet class words and their general words join the vocabulary (after the corpora's words, so
    their ids stay); the labels file lies beside the weights (``imagenet_labels.txt``)."""
    from .tflite_import import imagenet_classes

    labels = imagenet_file(init).parent / "imagenet_labels.txt"
    classes = imagenet_classes(labels, up=up, keep=keep)
    class_words = [(c.word, tuple(c.general)) for c in classes]
    new = sorted({w for name, general in class_words for w in (name, *general)} - set(vocab.tags))
    grown = Vocabulary(
        tags=list(vocab.tags) + new,
        freq=np.concatenate([vocab.freq, np.zeros(len(new), dtype=vocab.freq.dtype)]),
        dropped=vocab.dropped,
    )
    tw = teacher_words(class_words, grown.index)
    log(
        f"teacher: the ImageNet classifier speaks for {len(tw.word_ids)} words ({len(new)} new to the vocabulary, "
        f"e.g. {', '.join(new[:6])})"
    )
    return grown, tw
