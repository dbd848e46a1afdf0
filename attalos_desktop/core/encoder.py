"""The image encoder: the bundle's ONNX model under ONNX Runtime.

CUDA is used when the runtime has it and a GPU is present, otherwise the CPU; the provider actually
chosen is reported (ONNX Runtime silently falls back, so we ask the session, not the request). The
model's declared input/output shapes are checked against the manifest and a one-image dry run
confirms them, so a mismatched bundle is refused up front with a BundleError instead of producing
vectors of the wrong size deep into an indexing run.

ONNX Runtime itself is imported on first use (an ``ImageEncoder`` or ``default_providers()``), not with
this module: tag scoring and ``unit`` need only numpy, and a process that only searches by text
(``attalos-search WORDS``, the GUI until it embeds a photo) never pays the runtime's ~20 MB.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

import numpy as np

from .bundle import BundleError, ModelBundle

# Privacy: ONNX Runtime keeps a local usage-event database with a device id under ~/.cache unless
# this is set before it is first imported (attalos_desktop/__init__.py sets it too).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_ORT: ModuleType | None = None


def _ort() -> ModuleType:
    """The onnxruntime module, imported and quietened (no logging, no telemetry) on first use."""
    global _ORT
    if _ORT is None:
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        # ...and no telemetry events either, before any session exists.
        if hasattr(ort, "disable_telemetry_events"):
            try:
                ort.disable_telemetry_events()
            except Exception:  # noqa: BLE001 - never fatal
                pass
        _ORT = ort
    return _ORT


def _gpu_present() -> bool:
    if sys.platform == "win32":
        return True  # no cheap probe; ORT falls back to CPU by itself
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/dxg")


def default_providers() -> list[str]:
    avail = _ort().get_available_providers()
    chosen = []
    if "CUDAExecutionProvider" in avail and _gpu_present() and not os.environ.get("ATTALOS_CPU_ONLY"):
        chosen.append("CUDAExecutionProvider")
    chosen.append("CPUExecutionProvider")
    return chosen


def default_threads() -> int:
    """Intra-op threads: all cores; decoding threads mostly wait on I/O or release the GIL."""
    if hasattr(os, "sched_getaffinity"):  # not on Windows or macOS
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count() or 1
    return max(1, n)


class ImageEncoder:
    """Embeds preprocessed image batches [N,3,S,S] into raw joint-space vectors [N,d]."""

    def __init__(self, bundle: ModelBundle, providers: list[str] | None = None, threads: int | None = None) -> None:
        self.bundle = bundle
        ort = _ort()
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = threads or default_threads()
        so.inter_op_num_threads = 1
        # No busy-waiting between batches: those cycles belong to the decoding threads running alongside.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(bundle.encoder_path), so, providers=providers or default_providers()
            )
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise BundleError(f"{bundle.encoder_path.name} cannot be loaded by ONNX Runtime: {exc}") from exc
        self.provider = self.session.get_providers()[0]
        self._check_shapes()

    def _check_shapes(self) -> None:
        enc = self.bundle.manifest.get("encoder", {}) if isinstance(self.bundle.manifest.get("encoder"), dict) else {}
        ins, outs = self.session.get_inputs(), self.session.get_outputs()
        if len(ins) != 1:
            raise BundleError(f"the encoder must take one input, it takes {len(ins)}")
        self.input_name = ins[0].name
        want_in = enc.get("input")
        if want_in and want_in != self.input_name:
            raise BundleError(f"the encoder's input is named {self.input_name!r}, the manifest says {want_in!r}")
        out = outs[0]
        want_out = enc.get("output")
        if want_out:
            names = [o.name for o in outs]
            if want_out not in names:
                raise BundleError(f"the encoder has no output {want_out!r} (it has {names})")
            out = outs[names.index(want_out)]
        self.output_name = out.name
        s = self.bundle.preprocessing.input_size
        shape = ins[0].shape
        if len(shape) != 4:
            raise BundleError(f"the encoder input has rank {len(shape)}, expected [N,3,H,W]")
        for got, want, what in zip(shape[1:], (3, s, s), ("channels", "height", "width")):
            if isinstance(got, int) and got != want:
                raise BundleError(f"the encoder input {what} is {got}, the manifest's preprocessing needs {want}")
        if isinstance(shape[0], int) and shape[0] != -1:
            raise BundleError(f"the encoder input batch dimension is fixed at {shape[0]}; it must be dynamic")
        oshape = out.shape
        if len(oshape) != 2 or (isinstance(oshape[1], int) and oshape[1] != self.bundle.dim):
            raise BundleError(f"the encoder outputs shape {oshape}, the manifest says [N, {self.bundle.dim}]")
        if "float" not in ins[0].type or "float16" in ins[0].type:
            raise BundleError(f"the encoder input type is {ins[0].type}, expected float32")
        try:
            probe = self.embed(np.zeros((2, 3, s, s), dtype=np.float32))
        except Exception as exc:  # noqa: BLE001
            raise BundleError(f"the encoder fails on a {s}x{s} test batch: {exc}") from exc
        if probe.shape != (2, self.bundle.dim):
            raise BundleError(f"the encoder produced {probe.shape} for 2 images, expected (2, {self.bundle.dim})")

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """Raw (not normalised) embeddings; tag scores use the raw dot product."""
        out = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})
        return np.asarray(out[0], dtype=np.float32)


def tag_scores(bundle: ModelBundle, raw: np.ndarray) -> np.ndarray:
    """sigmoid(tag_vectors . f(x)) for every tag: the model's probability that the tag applies."""
    logits = bundle.tag_vectors @ raw.astype(np.float32)
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))


def top_tags(
    bundle: ModelBundle,
    raw: np.ndarray,
    top: int,
    min_score: float = 0.0,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[str, float]]:
    """Best-first (tag, score) pairs above min_score, skipping ``exclude``."""
    scores = tag_scores(bundle, raw)
    k = min(len(scores), top + len(exclude))
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    out: list[tuple[str, float]] = []
    for i in idx:
        t, s = bundle.tags[int(i)], float(scores[int(i)])
        if s < min_score:
            break
        if t in exclude:
            continue
        out.append((t, s))
        if len(out) >= top:
            break
    return out


def unit(v: np.ndarray) -> np.ndarray:
    """L2-normalise rows (or a vector); zero vectors stay zero."""
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)
