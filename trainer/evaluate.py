"""Evaluation: the LEAR annotation protocol, per-image P/R@k, mAP, and a zero-shot score.

``evaluate_bundle`` runs an exported bundle exactly as the app does (ONNX Runtime, the manifest's
preprocessing, the app's TextEncoder for words), so the figures describe what users get.

LEAR protocol (Guillaumin et al. 2009, used by JEC, TagProp, 2PKNN): every test photo is
annotated with its 5 highest-scoring tags; per tag, precision = correct / annotated and
recall = correct / truly tagged; P and R are averaged over the tags that occur in the test set
(and that the model knows); F1 = 2PR/(P+R); N+ = number of tags with recall > 0.

Test words (``word_metrics``, the ``words_*`` keys): the corpus's own test vocabulary, every
tag of its test split, scored the way the app scores it, so a bundle can be evaluated on a corpus
it was not trained on (the Attalos papers' cross-corpus setting: train on one, test on another).
A word the bundle has as a tag is "known"; any other is "zero-shot", placed by the TextEncoder
(a shipped word vector, else sub-word n-grams). The in-corpus case is the one where every test
word is known; the older keys (``lear_*``, ``map_*``: annotation over the bundle's own tags) stay.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from attalos_desktop.core.bundle import ModelBundle, load_bundle
from attalos_desktop.core.text_encoder import TextEncoder

from .augment import crop_tensor
from .data import Record, load_rgb, read_labels
from .errors import TrainError


def lear(scores: np.ndarray, truth: np.ndarray, k: int = 5) -> dict[str, float]:
    """LEAR metrics from scores [N,V] and a boolean truth matrix [N,V]."""
    n, v = scores.shape
    k = min(k, v)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    pred = np.zeros_like(truth, dtype=bool)
    pred[np.arange(n)[:, None], top] = True
    correct = (pred & truth).sum(axis=0)
    annotated = pred.sum(axis=0)
    relevant = truth.sum(axis=0)
    present = relevant > 0
    if not present.any():
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_plus": 0, "tags_evaluated": 0}
    prec = np.where(annotated > 0, correct / np.maximum(annotated, 1), 0.0)[present].mean()
    rec = (correct / np.maximum(relevant, 1))[present].mean()
    f1 = 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0
    return {
        "precision": float(prec),
        "recall": float(rec),
        "f1": float(f1),
        "n_plus": int(((correct > 0) & present).sum()),
        "tags_evaluated": int(present.sum()),
    }


def precision_recall_at_k(scores: np.ndarray, truth: np.ndarray, k: int) -> dict[str, float]:
    """Per-image precision@k and recall@k, averaged over photos with at least one true tag."""
    keep = truth.any(axis=1)
    s, t = scores[keep], truth[keep]
    if len(s) == 0:
        return {f"precision_at_{k}": 0.0, f"recall_at_{k}": 0.0}
    k = min(k, s.shape[1])
    top = np.argsort(-s, axis=1)[:, :k]
    hits = np.take_along_axis(t, top, axis=1).sum(axis=1)
    return {f"precision_at_{k}": float((hits / k).mean()), f"recall_at_{k}": float((hits / t.sum(axis=1)).mean())}


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """AP of one ranking (scores [N], relevant bool [N]); nan when nothing is relevant."""
    if not relevant.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    rel = relevant[order]
    hits = np.cumsum(rel)
    return float((hits[rel] / (np.flatnonzero(rel) + 1)).mean())


def mean_average_precision(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """mAP over photos (ranking tags) and over tags (ranking photos, i.e. search quality)."""
    per_img = [average_precision(scores[i], truth[i]) for i in range(len(scores))]
    per_tag = [average_precision(scores[:, j], truth[:, j]) for j in range(scores.shape[1])]
    mi = [x for x in per_img if not math.isnan(x)]
    mt = [x for x in per_tag if not math.isnan(x)]
    return {"map_images": float(np.mean(mi)) if mi else 0.0, "map_tags": float(np.mean(mt)) if mt else 0.0}


def auc(scores: np.ndarray, relevant: np.ndarray) -> float:
    """ROC AUC (probability a relevant photo outranks an irrelevant one; ties count half)."""
    pos, neg = scores[relevant], scores[~relevant]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="stable")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):  # average ranks over ties
        j = i
        while j + 1 < len(allv) and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def zero_shot(
    emb: np.ndarray, records: Sequence[Record], bundle: ModelBundle, encoder: TextEncoder | None = None
) -> dict[str, Any]:
    """Rank test photos for each test tag the model was never trained on, via its word vector.

    Reports mean AUC (chance 0.5) and mean AP against its chance level (the tag's base rate).
    """
    enc = encoder or TextEncoder(bundle)
    unseen = sorted({t for r in records for t in r.tags if bundle.tag_index(t) is None})
    aucs, aps, chance, words = [], [], [], {}
    for t in unseen:
        rel = np.array([t in r.tags for r in records])
        if rel.all() or not rel.any():
            continue
        wv = enc.word_vector(t)
        s = emb @ wv.vector
        a, ap = auc(s, rel), average_precision(s, rel)
        aucs.append(a)
        aps.append(ap)
        chance.append(float(rel.mean()))
        words[t] = {"auc": a, "ap": ap, "chance_ap": float(rel.mean()), "source": wv.source}
    if not aucs:
        return {"zero_shot_words": 0}
    return {
        "zero_shot_words": len(aucs),
        "zero_shot_auc": float(np.mean(aucs)),
        "zero_shot_map": float(np.mean(aps)),
        "zero_shot_chance_map": float(np.mean(chance)),
        "zero_shot_detail": words,
    }


def truth_matrix(records: Sequence[Record], tags: Sequence[str]) -> np.ndarray:
    index = {t: i for i, t in enumerate(tags)}
    truth = np.zeros((len(records), len(tags)), dtype=bool)
    for i, r in enumerate(records):
        for t in r.tags:
            j = index.get(t)
            if j is not None:
                truth[i, j] = True
    return truth


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def word_scores(
    emb: np.ndarray, words: Sequence[str], bundle: ModelBundle, encoder: TextEncoder | None = None
) -> tuple[np.ndarray, list[str]]:
    """Scores in 0..1 [N,W] of photos ``emb`` [N,d] for ``words``, as the app shows them, and each word's source.

    A word the bundle has as a tag ("known", source "tag") scores sigmoid(tag vector . photo vector): the
    probability its tag suggestion shows. Any other word ("zero-shot") scores as the app's search scores it
    as a query (``Library.search``): the TextEncoder's pieces and unit query q, then
    sigmoid(cosine(q, photo) * mean |piece vector| * typical |photo vector|), the typical length being the
    median over the photos evaluated (the app takes it over the library). Its source is the pieces' sources
    ("word": a shipped word vector; "subword": composed from n-grams), joined by "+" for several pieces.
    """
    enc = encoder or TextEncoder(bundle)
    emb = np.asarray(emb, dtype=np.float32)
    norms = np.linalg.norm(emb, axis=1)
    unit_emb = emb / np.maximum(norms, 1e-12)[:, None]
    typical = float(np.median(norms)) if len(norms) else 1.0
    scores = np.zeros((len(emb), len(words)), dtype=np.float64)
    sources: list[str] = []
    for j, word in enumerate(words):
        idx = bundle.tag_index(word)
        if idx is not None:
            scores[:, j] = _sigmoid(emb @ bundle.tag_vectors[idx])
            sources.append("tag")
            continue
        pieces = enc.pieces(word)
        q = enc.encode(word)
        if q is None or not pieces:  # nothing search could split off (e.g. only punctuation): the whole word
            wv = enc.word_vector(word)
            pieces = [wv]
            q = (wv.vector / (np.linalg.norm(wv.vector) + 1e-12)).astype(np.float32)
        scale = float(np.mean([np.linalg.norm(p.vector) for p in pieces])) * typical
        scores[:, j] = _sigmoid((unit_emb @ q) * scale)
        sources.append("+".join(p.source for p in pieces))
    return scores, sources


def words_summary(m: dict[str, Any]) -> str:
    """One line: how many of the corpus's test words the bundle knew and how many it scored zero-shot."""
    line = (
        f"the bundle knew {m['words_known']} of {m['words_total']} test words; "
        f"{m['words_zero_shot']} scored zero-shot through the text encoder"
    )
    src = m.get("words_zero_shot_sources") or {}
    if src:
        said = {"word": "shipped word vectors", "subword": "sub-words"}
        line += (
            " ("
            + ", ".join(f"{n} from {said.get(s, s)}" for s, n in sorted(src.items(), key=lambda x: (-x[1], x[0])))
            + ")"
        )
    return line


def words_headline(m: dict[str, Any]) -> str:
    """The test-word metrics on one line (LEAR over the test words, mAP, known vs zero-shot)."""

    def kind(name: str, key: str) -> str:
        val = m.get(f"words_{key}_map_words")
        return f"{name} mAP {val:.3f} over {m[f'words_{key}_map_count']}" if val is not None else f"{name}: none"

    return (
        f"test words: LEAR P {m['words_lear_precision']:.3f} R {m['words_lear_recall']:.3f} "
        f"F1 {m['words_lear_f1']:.3f} N+ {m['words_lear_n_plus']}, mAP words {m['words_map_words']:.3f}, "
        f"mAP photos {m['words_map_images']:.3f}; {kind('known', 'known')}; {kind('zero-shot', 'zero_shot')}"
    )


def word_metrics(
    emb: np.ndarray, records: Sequence[Record], bundle: ModelBundle, k: int = 5, encoder: TextEncoder | None = None
) -> dict[str, Any]:
    """Metrics over the test words (every tag of ``records``), known and zero-shot alike; ``words_*`` keys.

    LEAR annotates each photo with its ``k`` best test words; mAP is over words (ranking photos, as search
    does) and over photos (ranking words); known and zero-shot words also get their own mAP over words.
    """
    words = sorted({t for r in records for t in r.tags})
    scores, sources = word_scores(emb, words, bundle, encoder)
    known = np.array([s == "tag" for s in sources], dtype=bool)
    truth = truth_matrix(records, words)
    out: dict[str, Any] = {
        "words_total": len(words),
        "words_known": int(known.sum()),
        "words_zero_shot": int((~known).sum()),
    }
    out.update({f"words_lear_{key}": val for key, val in lear(scores, truth, k).items()})
    per_word = np.array([average_precision(scores[:, j], truth[:, j]) for j in range(len(words))], dtype=np.float64)
    defined = ~np.isnan(per_word)
    out["words_map_words"] = float(per_word[defined].mean()) if defined.any() else 0.0
    out["words_map_images"] = mean_average_precision(scores, truth)["map_images"]
    for key, mask in (("known", known), ("zero_shot", ~known)):
        sel = mask & defined
        out[f"words_{key}_map_words"] = float(per_word[sel].mean()) if sel.any() else None
        out[f"words_{key}_map_count"] = int(sel.sum())
    out["words_zero_shot_sources"] = dict(Counter(s for s in sources if s != "tag"))
    out["words_summary"] = words_summary(out)
    return out


def vocabulary_columns(bundle: ModelBundle, words: Iterable[str]) -> np.ndarray:
    """The bundle's tag columns of ``words`` (a benchmark's vocabulary), sorted; words it lacks are left out."""
    return np.array(sorted({j for t in words if (j := bundle.tag_index(t)) is not None}), dtype=np.int64)


def score_embeddings(
    emb: np.ndarray,
    records: Sequence[Record],
    bundle: ModelBundle,
    k: int = 5,
    vocabulary: Sequence[str] | None = None,
) -> dict[str, Any]:
    """All metrics for embeddings [N,d] of ``records`` under ``bundle``'s tags and words.

    LEAR (``lear_*``) annotates each photo with k words of the benchmark's ``vocabulary`` (its labels' words,
    as the published methods are scored); ``all_tags_lear_*`` lets every tag of the bundle compete, as the
    app's suggestions do (a bundle that knows "tabby" loses a slot on a photo the benchmark calls "cat")."""
    scores = emb @ bundle.tag_vectors.T
    truth = truth_matrix(records, bundle.tags)
    out: dict[str, Any] = {"test_images": len(records)}
    cols = vocabulary_columns(bundle, vocabulary or ())
    if len(cols):
        out.update({f"lear_{key}": val for key, val in lear(scores[:, cols], truth[:, cols], k).items()})
        out.update({f"all_tags_lear_{key}": val for key, val in lear(scores, truth, k).items()})
    else:
        out.update({f"lear_{key}": val for key, val in lear(scores, truth, k).items()})
    out.update(precision_recall_at_k(scores, truth, 1))
    out.update(precision_recall_at_k(scores, truth, k))
    out.update(mean_average_precision(scores, truth))
    out.update(zero_shot(emb, records, bundle))
    return out


def prior_baseline(records: Sequence[Record], bundle: ModelBundle, k: int = 5) -> dict[str, float]:
    """The frequency prior: every photo gets the k most frequent training tags."""
    scores = np.tile(bundle.tag_freq.astype(np.float64), (len(records), 1))
    return lear(scores, truth_matrix(records, bundle.tags), k)


def _decoder(bundle: ModelBundle):  # type: ignore[no-untyped-def]
    """The app's own decode rule when the core library provides it; the trainer's copy otherwise."""
    try:
        from attalos_desktop.core.imageio import decode_for_model

        return lambda path: decode_for_model(path, bundle.preprocessing).tensor
    except ImportError:
        return lambda path: crop_tensor(load_rgb(Path(path), bundle.preprocessing), bundle.preprocessing)


def embed_photos(
    bundle: ModelBundle, root: Path, records: Sequence[Record], batch: int = 64, threads: int = 0
) -> tuple[np.ndarray, list[Record], int]:
    """Embed photos with the bundle's ONNX encoder; returns (embeddings, records used, skipped)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(bundle.encoder_path), opts, providers=["CPUExecutionProvider"])
    decode = _decoder(bundle)
    used: list[Record] = []
    out: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    skipped = 0
    for r in records:
        try:
            pending.append(decode(root / r.file))
            used.append(r)
        except Exception:  # noqa: BLE001 - unreadable photos are skipped and counted
            skipped += 1
            continue
        if len(pending) == batch:
            out.append(sess.run(["embeddings"], {"images": np.stack(pending)})[0])
            pending = []
    if pending:
        out.append(sess.run(["embeddings"], {"images": np.stack(pending)})[0])
    d = bundle.dim
    return (np.concatenate(out) if out else np.zeros((0, d), np.float32)), used, skipped


def evaluate_bundle(
    bundle_dir: str | Path, data_dir: str | Path, *, split: str = "test", k: int = 5, threads: int = 0
) -> dict[str, Any]:
    """Metrics of an exported bundle on a dataset split, computed as the app would see them.

    ``data_dir`` may be a corpus the bundle was never trained on: the ``words_*`` keys score the corpus's
    own test words (known ones by their tag vectors, the others zero-shot through the TextEncoder).
    """
    from attalos_desktop.core.bundle import BundleError

    try:
        bundle = load_bundle(bundle_dir)
    except BundleError as exc:
        raise TrainError(f"--evaluate {bundle_dir}: {exc}") from exc
    root = Path(data_dir)
    every = read_labels(root)
    records = [r for r in every if r.split == split and r.tags]
    if not records:
        raise TrainError(f"{root} has no {split} photos with tags to evaluate on")
    emb, used, skipped = embed_photos(bundle, root, records, threads=threads)
    if not used:
        raise TrainError(f"none of the {len(records)} {split} photos could be read")
    vocabulary = sorted({t for r in every for t in r.tags})  # the benchmark's words, all splits
    metrics = score_embeddings(emb, used, bundle, k, vocabulary)
    metrics.update(word_metrics(emb, used, bundle, k))
    base = prior_baseline(used, bundle, k)
    metrics.update({f"prior_lear_{key}": val for key, val in base.items()})
    metrics["skipped_images"] = skipped
    metrics["split"] = split
    metrics["bundle"] = bundle.name
    outside = {t for r in used for t in r.tags if bundle.tag_index(t) is None}
    metrics["test_tags_outside_vocabulary"] = len(outside)
    return metrics
