"""The model bundle: the contract between the trainer and the app.

A bundle is a directory the trainer writes and the app reads without torch:

- ``manifest.json``   format, version, name, dims, preprocessing, files + sha256, training, metrics
- ``encoder.onnx``    float32 images [N,3,H,W] -> embeddings [N,d] (dynamic N)
- ``tags.txt``        one normalised tag per line (the tag vocabulary)
- ``tag_vectors.npy`` float32 [V,d], the learned tag layer (rows of the joint space)
- ``tag_freq.npy``    int64 [V], training frequency of each tag
- ``words.txt`` + ``word_vectors.npy``  extra words with pretrained vectors, float16 [W,p]
- ``ngram_vectors.npy`` float16 [B,p], sub-word buckets composing a vector for any other word
- ``text_map.npy``    float32 [p+1,d], affine map pretrained space -> joint space (last row: bias)

Loading verifies everything and refuses a bundle with a message naming what disagrees, because a
silently wrong bundle would mis-tag a whole library.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

FORMAT_NAME = "attalos-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ENCODER_FILE = "encoder.onnx"
TAGS_FILE = "tags.txt"
TAG_VECTORS_FILE = "tag_vectors.npy"
TAG_FREQ_FILE = "tag_freq.npy"
WORDS_FILE = "words.txt"
WORD_VECTORS_FILE = "word_vectors.npy"
NGRAM_VECTORS_FILE = "ngram_vectors.npy"
TEXT_MAP_FILE = "text_map.npy"
REQUIRED_FILES = (
    ENCODER_FILE,
    TAGS_FILE,
    TAG_VECTORS_FILE,
    TAG_FREQ_FILE,
    WORDS_FILE,
    WORD_VECTORS_FILE,
    NGRAM_VECTORS_FILE,
    TEXT_MAP_FILE,
)


class BundleError(ValueError):
    """A bundle that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class Preprocessing:
    """How the app must turn a photo into the encoder's input tensor."""

    input_size: int  # square side fed to the encoder
    resize: int  # shorter side is resized to this before the centre crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # A camera JPEG's embedded EXIF preview stands in for its pixels when its shorter side is at least this
    # (0: ``resize``). A model trained on resampled views (the trainer's --preview-min-side) takes the
    # cameras' 160x120 previews at 120, which decode some twenty times faster than the photo.
    preview_min_side: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input_size": self.input_size,
            "resize": self.resize,
            "crop": "center",
            "color": "RGB",
            "scale": "0..1",
            "mean": list(self.mean),
            "std": list(self.std),
        }
        if self.preview_min_side:
            out["preview_min_side"] = self.preview_min_side
        return out

    @property
    def smallest_preview(self) -> int:
        """The shortest side an embedded preview needs to stand in for the photo."""
        return self.preview_min_side or self.resize

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Preprocessing":
        try:
            pre = cls(
                input_size=int(d["input_size"]),
                resize=int(d["resize"]),
                mean=tuple(float(x) for x in d["mean"]),  # type: ignore[arg-type]
                std=tuple(float(x) for x in d["std"]),  # type: ignore[arg-type]
                preview_min_side=int(d.get("preview_min_side", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"manifest preprocessing is incomplete or malformed: {exc}") from exc
        if len(pre.mean) != 3 or len(pre.std) != 3 or min(pre.std) <= 0:
            raise BundleError("manifest preprocessing needs 3 means and 3 positive stds")
        if (
            not 8 <= pre.input_size <= 1024
            or pre.resize < pre.input_size
            or not 0 <= pre.preview_min_side <= pre.resize
        ):
            raise BundleError(
                f"manifest preprocessing sizes are invalid (input_size={pre.input_size}, resize={pre.resize})"
            )
        return pre


@dataclass(frozen=True)
class TextConfig:
    """Settings of the sub-word composition; the app must hash exactly as the trainer did."""

    ngram_min: int
    ngram_max: int
    buckets: int
    pretrained_dim: int
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ngram_min": self.ngram_min,
            "ngram_max": self.ngram_max,
            "buckets": self.buckets,
            "pretrained_dim": self.pretrained_dim,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TextConfig":
        try:
            return cls(
                ngram_min=int(d["ngram_min"]),
                ngram_max=int(d["ngram_max"]),
                buckets=int(d["buckets"]),
                pretrained_dim=int(d["pretrained_dim"]),
                source=str(d.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"manifest text section is incomplete or malformed: {exc}") from exc


@dataclass
class ModelBundle:
    """A verified bundle in memory (the ONNX file itself is opened by the encoder)."""

    path: Path
    manifest: dict[str, Any]
    preprocessing: Preprocessing
    text: TextConfig
    tags: list[str]
    tag_vectors: np.ndarray
    tag_freq: np.ndarray
    words: list[str]
    word_vectors: np.ndarray
    ngram_vectors: np.ndarray
    text_map: np.ndarray
    _tag_index: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def dim(self) -> int:
        return int(self.manifest["embedding_dim"])

    @property
    def encoder_path(self) -> Path:
        return self.path / ENCODER_FILE

    @property
    def encoder_id(self) -> str:
        """Identity of the image encoder: stored vectors made by another id must be re-embedded."""
        return str(self.manifest["files"][ENCODER_FILE]["sha256"])

    def tag_index(self, tag: str) -> int | None:
        if not self._tag_index:
            self._tag_index = {t: i for i, t in enumerate(self.tags)}
        return self._tag_index.get(tag)

    def summary(self) -> dict[str, Any]:
        """What a models list shows: name, date, vocabulary size, metrics."""
        return {
            "name": self.name,
            "path": str(self.path),
            "created": self.manifest.get("created"),
            "vocabulary": len(self.tags),
            "embedding_dim": self.dim,
            "metrics": self.manifest.get("metrics", {}),
            "training": self.manifest.get("training", {}),
        }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return text.split("\n")[:-1] if text.endswith("\n") else (text.split("\n") if text else [])


def _load_array(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path.name} ({what}) cannot be read: {exc}") from exc


def load_bundle(path: str | os.PathLike[str], verify_checksums: bool = True) -> ModelBundle:
    """Read and verify a bundle; raise BundleError saying what disagrees."""
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"model bundle {root} is not a directory")
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"model bundle {root} has no {MANIFEST}")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"{mpath} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"{mpath} is not an {FORMAT_NAME} manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"bundle format version {version!r} is not supported (this app reads version {FORMAT_VERSION})"
        )
    for key in ("name", "embedding_dim", "files", "preprocessing", "text"):
        if key not in manifest:
            raise BundleError(f"{mpath} lacks the field {key!r}")
    files = manifest["files"]
    for name in REQUIRED_FILES:
        entry = files.get(name) if isinstance(files, dict) else None
        if not entry or "sha256" not in entry:
            raise BundleError(f"manifest does not list {name} with its sha256")
        fpath = root / name
        if not fpath.is_file():
            raise BundleError(f"bundle file {name} is missing")
        if verify_checksums and sha256_file(fpath) != entry["sha256"]:
            raise BundleError(f"bundle file {name} does not match its sha256 in the manifest (corrupt or edited)")

    pre = Preprocessing.from_json(manifest["preprocessing"])
    text = TextConfig.from_json(manifest["text"])
    dim = int(manifest["embedding_dim"])
    tags = _read_lines(root / TAGS_FILE)
    tag_vectors = _load_array(root / TAG_VECTORS_FILE, "tag matrix").astype(np.float32, copy=False)
    tag_freq = _load_array(root / TAG_FREQ_FILE, "tag frequencies")
    words = _read_lines(root / WORDS_FILE)
    word_vectors = _load_array(root / WORD_VECTORS_FILE, "word vectors")
    ngram_vectors = _load_array(root / NGRAM_VECTORS_FILE, "sub-word vectors")
    text_map = _load_array(root / TEXT_MAP_FILE, "text map").astype(np.float32, copy=False)
    p = text.pretrained_dim

    def expect(cond: bool, msg: str) -> None:
        if not cond:
            raise BundleError(f"bundle shapes disagree: {msg}")

    expect(len(tags) > 0, "the tag vocabulary is empty")
    expect(len(set(tags)) == len(tags), "tags.txt has duplicate tags")
    expect(tag_vectors.shape == (len(tags), dim), f"tag_vectors {tag_vectors.shape} != ({len(tags)}, {dim})")
    expect(tag_freq.shape == (len(tags),), f"tag_freq {tag_freq.shape} != ({len(tags)},)")
    expect(word_vectors.shape == (len(words), p), f"word_vectors {word_vectors.shape} != ({len(words)}, {p})")
    expect(ngram_vectors.shape == (text.buckets, p), f"ngram_vectors {ngram_vectors.shape} != ({text.buckets}, {p})")
    expect(text_map.shape == (p + 1, dim), f"text_map {text_map.shape} != ({p + 1}, {dim})")
    expect(bool(np.isfinite(tag_vectors).all()), "tag_vectors holds NaN or infinity")
    return ModelBundle(
        path=root,
        manifest=manifest,
        preprocessing=pre,
        text=text,
        tags=tags,
        tag_vectors=tag_vectors,
        tag_freq=tag_freq.astype(np.int64, copy=False),
        words=words,
        word_vectors=word_vectors,
        ngram_vectors=ngram_vectors,
        text_map=text_map,
    )


def write_bundle(
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    encoder_onnx: str | os.PathLike[str],
    preprocessing: Preprocessing,
    text: TextConfig,
    tags: Sequence[str],
    tag_vectors: np.ndarray,
    tag_freq: np.ndarray,
    words: Sequence[str],
    word_vectors: np.ndarray,
    ngram_vectors: np.ndarray,
    text_map: np.ndarray,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra_files: dict[str, str | os.PathLike[str]] | None = None,
) -> Path:
    """Write a complete bundle atomically (a temp dir renamed into place) and verify it.

    Atomic so that a killed export never leaves a half bundle the app would then refuse.
    ``extra_files`` (name -> source path) are copied in and listed with their sha256; the app
    ignores them (the trainer stores the tower's torch weights this way, to continue training).
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    for item in list(tags) + list(words):
        if "\n" in item or item != item.strip() or not item:
            raise ValueError(f"tag/word {item!r} cannot be stored one per line")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copyfile(encoder_onnx, tmp / ENCODER_FILE)
        (tmp / TAGS_FILE).write_text("".join(t + "\n" for t in tags), encoding="utf-8")
        (tmp / WORDS_FILE).write_text("".join(w + "\n" for w in words), encoding="utf-8")
        np.save(tmp / TAG_VECTORS_FILE, np.ascontiguousarray(tag_vectors, dtype=np.float32))
        np.save(tmp / TAG_FREQ_FILE, np.ascontiguousarray(tag_freq, dtype=np.int64))
        np.save(tmp / WORD_VECTORS_FILE, np.ascontiguousarray(word_vectors, dtype=np.float16))
        np.save(tmp / NGRAM_VECTORS_FILE, np.ascontiguousarray(ngram_vectors, dtype=np.float16))
        np.save(tmp / TEXT_MAP_FILE, np.ascontiguousarray(text_map, dtype=np.float32))
        extras = dict(extra_files or {})
        for fname, src in extras.items():
            if fname in REQUIRED_FILES or fname == MANIFEST or Path(fname).name != fname:
                raise ValueError(f"extra bundle file name {fname!r} is reserved or not a plain name")
            shutil.copyfile(src, tmp / fname)
        files = {
            f: {"sha256": sha256_file(tmp / f), "bytes": (tmp / f).stat().st_size} for f in (*REQUIRED_FILES, *extras)
        }
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": name,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "embedding_dim": int(tag_vectors.shape[1]),
            "encoder": {"file": ENCODER_FILE, "input": "images", "output": "embeddings"},
            "preprocessing": preprocessing.to_json(),
            "text": text.to_json(),
            "vocabulary_size": len(tags),
            "files": files,
            "training": training or {},
            "metrics": metrics or {},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        load_bundle(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def update_metrics(bundle_dir: str | os.PathLike[str], metrics: dict[str, Any]) -> None:
    """Merge measured metrics into a bundle's manifest (the manifest is not itself checksummed)."""
    mpath = Path(bundle_dir) / MANIFEST
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    manifest.setdefault("metrics", {}).update(metrics)
    tmp = mpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, mpath)


def resources_models_dir() -> Path:
    """The models folder shipped inside the package (resources/models)."""
    return Path(__file__).resolve().parents[2] / "resources" / "models"


DEFAULT_MODEL_ENV = "ATTALOS_DEFAULT_MODEL"


def default_bundle_path() -> Path:
    """The model the app uses out of the box: the bundle named by resources/models/DEFAULT.

    ``ATTALOS_DEFAULT_MODEL`` (a bundle directory, or the name of one under resources/models)
    overrides it, for portable installs and for tests that need a model of known behaviour.
    """
    models = resources_models_dir()
    override = os.environ.get(DEFAULT_MODEL_ENV, "").strip()
    if override:
        candidate = Path(override)
        return candidate if candidate.is_dir() or candidate.is_absolute() else models / override
    marker = models / "DEFAULT"
    if not marker.is_file():
        raise BundleError(f"no default model is installed ({marker} is missing)")
    return models / marker.read_text(encoding="utf-8").strip()


def find_bundles(*dirs: str | os.PathLike[str]) -> list[Path]:
    """Directories directly under ``dirs`` that look like bundles (have a manifest)."""
    found: list[Path] = []
    for d in dirs:
        base = Path(d)
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if child.is_dir() and not child.name.startswith(".") and (child / MANIFEST).is_file():
                found.append(child)
    return found
