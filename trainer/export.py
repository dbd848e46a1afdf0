"""Export a trained model as a bundle: ONNX image encoder, tag matrix, and the OOV text data.

The ONNX file is checked against torch right after export (ONNX Runtime on the same inputs,
max abs difference <= 1e-4), so a bundle that would embed differently from the trained model is
never written.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attalos_desktop.core.bundle import TextConfig, write_bundle

from .errors import TrainError
from .model import Tower
from .textspace import fit_text_map, identity_map
from .train import TOWER_WEIGHTS, TrainResult

PARITY_TOLERANCE = 1e-4
OPSET = 17


class _Export(torch.nn.Module):
    """Float32 eval-mode wrapper with fixed names, whatever the tower's training state."""

    def __init__(self, tower: Tower) -> None:
        super().__init__()
        self.tower = tower

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.tower(images)


def export_onnx(tower: Tower, image_size: int, path: str | Path, exporter: str = "auto") -> str:
    """Write ``images [N,3,S,S] -> embeddings [N,d]`` with a dynamic batch; return the exporter used.

    The TorchScript exporter is tried first (fast, opset 17, IR 8: loads in every ONNX Runtime
    1.2x-1.3x); the dynamo exporter (opset 18) is the fallback when the former is unavailable.
    """
    model = _Export(tower).to("cpu").float().eval()
    x = torch.randn(2, 3, image_size, image_size)
    errors = []
    order = {"auto": ("legacy", "dynamo"), "legacy": ("legacy",), "dynamo": ("dynamo",)}[exporter]
    for kind in order:
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                if kind == "legacy":
                    torch.onnx.export(model, (x,), str(path), input_names=["images"], output_names=["embeddings"],
                                      dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
                                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
                else:
                    torch.onnx.export(model, (x,), str(path), input_names=["images"], output_names=["embeddings"],
                                      dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},),
                                      opset_version=18, dynamo=True, external_data=False, verbose=False)
            return kind
        except Exception as exc:  # noqa: BLE001 - try the other exporter, report both if all fail
            errors.append(f"{kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    raise TrainError("ONNX export failed (" + "; ".join(errors) + ")")


def onnx_parity(tower: Tower, onnx_path: str | Path, image_size: int, n: int = 3, seed: int = 0) -> float:
    """Max abs difference between ONNX Runtime (CPU) and torch (float32, CPU) on random inputs."""
    import onnxruntime as ort

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, image_size, image_size, generator=g)
    model = _Export(tower).to("cpu").float().eval()
    with torch.no_grad():
        ref = model(x).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(["embeddings"], {"images": x.numpy()})[0]
    if out.shape != ref.shape:
        raise TrainError(f"exported ONNX gives shape {out.shape}, torch gives {ref.shape}")
    return float(np.abs(out - ref).max())


def text_map_for(result: TrainResult) -> tuple[np.ndarray, dict[str, Any]]:
    """Identity-like map when frozen; otherwise fitted over the tags with a pretrained vector."""
    setup = result.setup
    if result.table.frozen:
        return identity_map(setup.prior), {"text_map": "initial map (tag layer frozen)"}
    known = setup.tag_known
    learned = result.table.weight.numpy()[known]
    m = fit_text_map(setup.tag_pretrained[known], learned, setup.prior, ridge=1.0)
    return m, {"text_map": f"ridge fit over {int(known.sum())} tags, shrunk toward the initial map"}


def export_bundle(result: TrainResult, out_dir: str | Path, *, name: str, description: str = "",
                  exporter: str = "auto", tower_dtype: str = "float32",
                  metrics: dict[str, Any] | None = None) -> tuple[Path, float]:
    """Write the bundle; return (path, ONNX parity max-abs diff). Raises TrainError on parity failure."""
    from safetensors.torch import save_file

    setup = result.setup
    tower = result.tower.to("cpu").float().eval()
    size = setup.args.image_size
    with tempfile.TemporaryDirectory(prefix="attalos-export-") as tmp:
        onnx_path = Path(tmp) / "encoder.onnx"
        kind = export_onnx(tower, size, onnx_path, exporter)
        diff = onnx_parity(tower, onnx_path, size)
        if not diff <= PARITY_TOLERANCE:
            raise TrainError(f"ONNX export disagrees with torch: max abs diff {diff:.3g} > {PARITY_TOLERANCE}")
        weights = Path(tmp) / TOWER_WEIGHTS
        dtype = torch.float16 if tower_dtype == "float16" else torch.float32
        save_file({k: v.detach().to(dtype if v.is_floating_point() else v.dtype).contiguous()
                   for k, v in tower.state_dict().items()}, str(weights))
        text_map, map_info = text_map_for(result)
        training = dict(result.summary)
        training.update(map_info)
        training.update({"onnx_exporter": kind, "onnx_parity_max_abs": diff, "description": description,
                         "tower_weights": TOWER_WEIGHTS})
        all_metrics = {"onnx_parity_max_abs": diff}
        all_metrics.update(metrics or {})
        ts = setup.text
        path = write_bundle(
            out_dir, name=name, encoder_onnx=onnx_path, preprocessing=setup.pre,
            text=TextConfig(ngram_min=ts.ngram_min, ngram_max=ts.ngram_max, buckets=ts.ngram_vectors.shape[0],
                            pretrained_dim=ts.vectors.shape[1] if ts.vectors.size else setup.tag_pretrained.shape[1],
                            source=setup.word_vectors.source),
            tags=setup.vocab.tags, tag_vectors=result.table.weight.numpy(), tag_freq=setup.vocab.freq,
            words=ts.words, word_vectors=ts.vectors.reshape(len(ts.words), setup.tag_pretrained.shape[1]),
            ngram_vectors=ts.ngram_vectors, text_map=text_map, training=training, metrics=all_metrics,
            extra_files={TOWER_WEIGHTS: weights},
        )
    if description:
        import json

        mpath = path / "manifest.json"
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        manifest["description"] = description
        mpath.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path, diff
