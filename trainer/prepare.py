"""Everything a training run needs before its first step: the data and vocabulary, the word vectors and the
sub-word pieces shipped for out-of-vocabulary words, the optional bundle to continue from, and the tower and
tag table built from them (``prepare``, ``build_model``). ``train.py`` runs the steps.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from attalos_desktop.core.bundle import BundleError, ModelBundle, Preprocessing, load_bundle
from attalos_desktop.core.text_encoder import TextEncoder

from .corpora import Corpus, load_corpora
from .data import Record, Vocabulary, build_vocabulary, preprocessing_for, read_labels, split_records
from .errors import TrainError
from .export import TOWER_WEIGHTS
from .model import Tower, build_tower
from .shards import ShardSource, is_shard_dir
from .tag_layer import TagTable
from .textspace import base_map, compose, fit_ngram_vectors
from .wordvectors import WordVectors, load_word_vectors

Log = Callable[[str], None]


@dataclass
class TextSide:
    """The pretrained-space data shipped for OOV words: extra words and sub-word buckets."""

    words: list[str]
    vectors: np.ndarray  # [W, p]
    ngram_vectors: np.ndarray  # [B, p]
    ngram_min: int
    ngram_max: int


@dataclass
class Setup:
    """Everything derived from the dataset and the flags before the first step."""

    args: argparse.Namespace
    data_dir: Path
    vocab: Vocabulary
    train_records: list[Record]
    train_ids: list[np.ndarray]
    test_records: list[Record]
    train_without_tags: int
    pre: Preprocessing
    word_vectors: WordVectors
    tag_pretrained: np.ndarray  # [V, p] pretrained-space vectors of the tags (composed if unknown)
    tag_known: np.ndarray  # bool [V]: the source had a vector of its own for the tag
    prior: np.ndarray  # [p, d] the initial pretrained -> joint map
    text: TextSide
    dim: int
    init_bundle: ModelBundle | None = None
    shards: ShardSource | None = None  # --data is a shard folder (train_records is then empty)
    corpora: list[Corpus] | None = None  # photos decoded into memory (train_records is then the first's)
    teacher: Any = None  # teacher.TeacherWords: the ImageNet classifier's words (--teacher imagenet)

    @property
    def n_train(self) -> int:
        return self.shards.photos if self.shards is not None else len(self.train_records)


@dataclass
class TrainResult:
    """A trained (or interrupted) model and what happened."""

    setup: Setup
    tower: Tower
    table: TagTable
    summary: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    main_process: bool = True  # rank 0 (or the only process): the one that exports


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda was asked for but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise TrainError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def tower_dim(bundle: ModelBundle) -> int:
    """The tower's output size: the bundle's embedding size, unless its encoder appends more (the
    label-transfer stage's votes: ``transfer_stage.py``), whose manifest then says so."""
    return int(bundle.manifest.get("training", {}).get("tower_dim", bundle.dim))


def _init_bundle(spec: str) -> ModelBundle | None:
    if spec == "random" or spec.startswith("imagenet"):
        return None
    try:
        return load_bundle(spec)
    except BundleError as exc:
        raise TrainError(f"--init {spec}: {exc}") from exc


def build_text_side(wv: WordVectors, vocab: Vocabulary, extra: list[str], args: argparse.Namespace) -> TextSide:
    """Extra words (with vectors) and sub-word buckets fitted over them and the known tags."""
    vecs, known = wv.lookup(extra)
    words = [w for w, k in zip(extra, known) if k]
    vecs = vecs[known]
    tag_vecs, tag_known = wv.lookup(vocab.tags)
    fit_words = words + [t for t, k in zip(vocab.tags, tag_known) if k]
    fit_vecs = np.concatenate([vecs, tag_vecs[tag_known]]) if len(fit_words) else vecs
    ngrams = fit_ngram_vectors(
        fit_words, fit_vecs, n_min=args.ngram_min, n_max=args.ngram_max, buckets=args.ngram_buckets, ridge=0.1
    )
    return TextSide(words=words, vectors=vecs, ngram_vectors=ngrams, ngram_min=args.ngram_min, ngram_max=args.ngram_max)


def _keep_general_word(
    wv: WordVectors, everyday: int, people: Counter[str] | None = None, exclude: Sequence[str] = ()
) -> Callable[[str], bool]:
    """A WordNet general word is added only if it has a word vector (and is among the ``everyday`` most
    frequent words, when given): "dog" and "vehicle", not "canid" or "placental"; with ``people`` (photos
    per word in tag sets people wrote), only if people tag photos with it: "container", not "device"."""
    common = set(wv.everyday_words(everyday)) if everyday else None
    return lambda w: (
        w not in exclude
        and bool(wv.lookup([w])[1][0])
        and (common is None or w in common)
        and (people is None or people[w] > 0)
    )


def _search_word_counts(args: argparse.Namespace) -> Counter[str]:
    """Photos per word in the tag sets shipped as search words only (``--search-words``: ESP Game, IAPR TC-12,
    Visual Genome in the recipe), read once: their words ship with vectors, and they say which general words
    people tag photos with (``--general-min-photos``)."""
    counts: Counter[str] = Counter()
    for folder in getattr(args, "search_words", None) or ():
        for r in read_labels(folder):
            counts.update(set(r.tags))
    return counts


def _people_words(counts: Counter[str], args: argparse.Namespace) -> Counter[str] | None:
    """Words people put on at least ``--general-min-photos`` photos; None when the flag is 0."""
    n = getattr(args, "general_min_photos", 0)
    return Counter({w: c for w, c in counts.items() if c >= n}) if n else None


def prepare(args: argparse.Namespace, log: Log = print) -> Setup:
    """Read the dataset, build the vocabulary, load word vectors and the optional init bundle."""
    data_dir = Path(args.data)
    source = None
    corpora = None
    wv = load_word_vectors(args.word_vectors)
    specs = getattr(args, "corpora", None)
    searched = _search_word_counts(args)
    people = _people_words(searched, args)
    if specs:
        everyday = max((int(s.hypernyms.get("everyday", 0)) for s in specs), default=0)
        corpora, vocab, _ = load_corpora(
            specs,
            seed=args.seed,
            min_count=args.min_count,
            keep_word=_keep_general_word(wv, everyday, people, args.general_exclude),
            log=log,
        )
        train_records, train_ids, no_tags = corpora[0].train, corpora[0].ids, 0
        test_records = corpora[0].test
        seen_tags = {t for c in corpora for rs in (c.train, c.held_out, c.test) for r in rs for t in r.tags}
        for c in corpora:
            c.batch = max(1, round(c.spec.weight * args.batch_size))
        data_dir = corpora[0].spec.path
    elif is_shard_dir(data_dir):  # tar shards with their one-pass count (shards.py)
        source = ShardSource.open(data_dir)
        vocab = source.vocabulary(args.min_count)
        train_records, train_ids, no_tags, test_records = [], [], 0, []
        seen_tags = set(source.tags)
    else:
        records = read_labels(data_dir)
        vocab = build_vocabulary(records, args.min_count)
        train_records, train_ids, no_tags = split_records(records, vocab, "train")
        if not train_records:
            raise TrainError("no train photo keeps a tag of the vocabulary")
        test_records = [r for r in records if r.split == "test"]
        seen_tags = {t for r in records for t in r.tags}
    teacher = None
    if args.teacher == "imagenet":
        if not args.trunk_features:
            raise TrainError(
                "--teacher imagenet needs --trunk-features (its soft labels come with the cached features)"
            )
        from .teacher import add_teacher_words

        everyday = max((int(s.hypernyms.get("everyday", 0)) for s in specs or ()), default=0)
        keep = _keep_general_word(wv, everyday, people, args.general_exclude)
        vocab, teacher = add_teacher_words(vocab, args.init, args.teacher_up, keep, log)
    if vocab.dropped:
        sample = ", ".join(sorted(vocab.dropped, key=lambda t: -vocab.dropped[t])[:8])
        log(f"dropped {len(vocab.dropped)} tags seen fewer than {args.min_count} times (e.g. {sample})")
    if no_tags:
        log(f"{no_tags} train photos have no tag left after --min-count and are not used")
    init_bundle = _init_bundle(args.init)
    p = wv.dim
    dim = args.dim or (tower_dim(init_bundle) if init_bundle is not None else p)
    if init_bundle is not None:
        if tower_dim(init_bundle) != dim:
            raise TrainError(
                f"--init bundle {args.init} has embedding dimension {tower_dim(init_bundle)}, "
                f"but this run uses --dim {dim}"
            )
        if init_bundle.text.pretrained_dim != p:
            raise TrainError(
                f"--init bundle {args.init} was trained with {init_bundle.text.pretrained_dim}-d "
                f"word vectors, but --word-vectors gives {p}-d vectors"
            )
        trained_backbone = init_bundle.manifest.get("training", {}).get("backbone")
        if trained_backbone and trained_backbone != args.backbone:
            raise TrainError(
                f"--init bundle {args.init} has backbone {trained_backbone}, not --backbone {args.backbone}"
            )
        if init_bundle.preprocessing.input_size != args.image_size:
            log(
                f"note: the init bundle used {init_bundle.preprocessing.input_size} px inputs; training at {args.image_size} px"
            )
    # Words for the app's OOV search: everyday words, plus tags of the data the model does not learn
    # (rare or test-only: only their pretrained vectors ship, never their labels).
    vocab_set = set(vocab.tags)
    seen_tags |= set(searched)  # tag sets shipped as search words only
    data_words = sorted(seen_tags - vocab_set)
    extra = data_words + wv.everyday_words(args.extra_words, exclude=vocab_set | set(data_words))
    text = build_text_side(wv, vocab, extra, args)
    tag_pre, tag_known = wv.lookup(vocab.tags)
    for i in np.flatnonzero(~tag_known):
        tag_pre[i] = compose(text.ngram_vectors, vocab.tags[i], args.ngram_min, args.ngram_max)
    if (~tag_known).any():
        log(f"{int((~tag_known).sum())} tags have no pretrained vector and start from sub-word pieces")
    prior = base_map(p, dim, args.seed)
    if init_bundle is not None:
        prior = init_bundle.text_map[:-1, :dim]
    return Setup(
        args=args,
        data_dir=data_dir,
        vocab=vocab,
        train_records=train_records,
        train_ids=train_ids,
        test_records=test_records,
        train_without_tags=no_tags,
        pre=preprocessing_for(args.image_size),
        word_vectors=wv,
        tag_pretrained=tag_pre,
        tag_known=tag_known,
        prior=prior,
        text=text,
        dim=dim,
        init_bundle=init_bundle,
        shards=source,
        corpora=corpora,
        teacher=teacher,
    )


def initial_tag_vectors(setup: Setup) -> np.ndarray:
    """Tags start at their mapped pretrained vectors, or (from a bundle) where the bundle put them."""
    init = setup.tag_pretrained @ setup.prior
    b = setup.init_bundle
    if b is not None:
        enc = TextEncoder(b)
        for i, t in enumerate(setup.vocab.tags):
            init[i] = enc.word_vector(t).vector[: setup.dim]
    return init.astype(np.float32)


def build_model(setup: Setup, device: torch.device) -> tuple[Tower, TagTable]:
    args = setup.args
    imagenet = None
    if args.init.startswith("imagenet"):
        imagenet = args.init.split(":", 1)[1] if ":" in args.init else "cache"
    torch.manual_seed(args.seed)
    tower = build_tower(args.backbone, setup.dim, imagenet)
    if setup.init_bundle is not None:
        path = setup.init_bundle.path / TOWER_WEIGHTS
        if not path.is_file():
            raise TrainError(f"--init bundle {args.init} has no {TOWER_WEIGHTS} (it cannot be trained further)")
        from safetensors.torch import load_file

        sd = {k: v.float() for k, v in load_file(str(path)).items()}
        try:
            tower.load_state_dict(sd)
        except RuntimeError as exc:
            raise TrainError(
                f"--init bundle {args.init} tower does not fit --backbone {args.backbone} --dim {setup.dim}"
            ) from exc
    if setup.init_bundle is not None:
        tower.input_norm = (setup.init_bundle.preprocessing.mean, setup.init_bundle.preprocessing.std)
    elif imagenet is not None and args.backbone == "mobilenet_v2":  # TensorFlow's weights (tflite_import.py)
        from .tflite_import import TFLITE_MEAN, TFLITE_STD

        tower.input_norm = (TFLITE_MEAN, TFLITE_STD)
    tower.to(device)
    if _channels_last(setup, device):
        tower.to(memory_format=torch.channels_last)
    table = TagTable(
        torch.from_numpy(initial_tag_vectors(setup)),
        frozen=args.tag_layer == "frozen",
        lr=args.tag_lr,
        optimizer=args.tag_optimizer,
        betas=(0.9, args.beta2),
    )
    return tower, table


def _channels_last(setup: Setup, device: torch.device) -> bool:
    """NHWC convolutions: faster on CUDA, and on CPU for the in-memory batches (already contiguous)."""
    return device.type == "cuda" or setup.corpora is not None
