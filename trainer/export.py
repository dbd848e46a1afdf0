"""Export a trained model as a bundle: ONNX image encoder, tag matrix, and the OOV text data.

The ONNX file is checked against torch right after export (ONNX Runtime on the same inputs, one
policy: ``parity``), so a bundle that would embed differently from the trained model is never written.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from attalos_desktop.core.bundle import TextConfig, write_bundle

from .errors import TrainError
from .model import Tower
from .tag_layer import TagTable
from .textspace import fit_text_map, identity_map

# The tower's weights in a bundle, so --init and fine-tuning continue from it (train.py and finetune.py read
# the same name).
TOWER_WEIGHTS = "tower.safetensors"


class TrainResult(Protocol):
    """What a bundle is written from: a trained model and its setup (train.py's ``TrainResult`` is one). A
    protocol, so that this module, a floor below the training loop, does not import it."""

    setup: Any  # train.Setup: args, vocab, pre, dim, text side, pretrained tag vectors
    tower: Tower
    table: TagTable
    summary: dict[str, Any]


PARITY_TOLERANCE = 1e-4  # relative to the largest output, float32 weights
FLOAT16_TOLERANCE = 2e-2  # the same with weights stored in float16 (shrink_onnx)
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
                    torch.onnx.export(
                        model,
                        (x,),
                        str(path),
                        input_names=["images"],
                        output_names=["embeddings"],
                        dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
                        opset_version=OPSET,
                        do_constant_folding=True,
                        dynamo=False,
                    )
                else:
                    torch.onnx.export(
                        model,
                        (x,),
                        str(path),
                        input_names=["images"],
                        output_names=["embeddings"],
                        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},),
                        opset_version=18,
                        dynamo=True,
                        external_data=False,
                        verbose=False,
                    )
            return kind
        except Exception as exc:  # noqa: BLE001 - try the other exporter, report both if all fail
            errors.append(f"{kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    raise TrainError("ONNX export failed (" + "; ".join(errors) + ")")


def parity(encoder: torch.nn.Module, onnx_path: str | Path, x: torch.Tensor) -> tuple[float, float, np.ndarray]:
    """ONNX Runtime (CPU) against torch (float32, CPU) on ``x``: (max abs diff, the same relative to the
    largest output, ONNX's output). The one parity policy: relative diff <= PARITY_TOLERANCE, or
    FLOAT16_TOLERANCE when the ONNX file stores its weights in float16."""
    import onnxruntime as ort

    with torch.no_grad():
        ref = encoder.to("cpu").float().eval()(x).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(["embeddings"], {"images": x.numpy()})[0]
    if out.shape != ref.shape:
        raise TrainError(f"exported ONNX gives shape {out.shape}, torch gives {ref.shape}")
    diff = float(np.abs(out - ref).max())
    return diff, diff / max(float(np.abs(ref).max()), 1e-12), out


def text_map_for(result: TrainResult) -> tuple[np.ndarray, dict[str, Any]]:
    """Identity-like map when frozen; otherwise fitted over the tags with a pretrained vector."""
    setup = result.setup
    if result.table.frozen:
        return identity_map(setup.prior), {"text_map": "initial map (tag layer frozen)"}
    known = setup.tag_known
    learned = result.table.weight.numpy()[known]
    m = fit_text_map(setup.tag_pretrained[known], learned, setup.prior, ridge=1.0)
    return m, {"text_map": f"ridge fit over {int(known.sum())} tags, shrunk toward the initial map"}


def write_model_bundle(
    result: TrainResult,
    out_dir: str | Path,
    *,
    name: str,
    description: str = "",
    encoder: torch.nn.Module | None = None,
    pre: Any = None,
    sample: torch.Tensor | None = None,
    float16: bool = False,
    tag_vectors: np.ndarray | None = None,
    text_map: np.ndarray | None = None,
    extra_training: dict[str, Any] | None = None,
    exporter: str = "auto",
    tower_dtype: str = "float32",
    log: Any = None,
    check_columns: tuple[int, np.ndarray] | None = None,
) -> tuple[Path, float]:
    """The one bundle writer of the trainer: ONNX export checked against torch, the tower's weights (so
    ``--init`` and fine-tuning continue from any bundle), the tag matrix, the text side and a manifest
    that says how the model was made. Plain exports pass only ``result``; export stages
    (``transfer_stage.py``) pass their deployed ``encoder`` and tag matrix. Returns (path, parity diff).
    """
    from safetensors.torch import save_file

    setup = result.setup
    args = setup.args
    tower = result.tower.to("cpu").float().to(memory_format=torch.contiguous_format).eval()
    encoder = encoder if encoder is not None else tower
    pre = pre if pre is not None else setup.pre
    size = args.image_size
    if sample is None:
        sample = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory(prefix="attalos-export-") as tmp:
        onnx_path = Path(tmp) / "encoder.onnx"
        kind = export_onnx(encoder, size, onnx_path, exporter)  # type: ignore[arg-type]
        if float16:
            shrink_onnx(onnx_path)
        diff, rel, out = parity(encoder, onnx_path, sample)
        limit = FLOAT16_TOLERANCE if float16 else PARITY_TOLERANCE
        if not rel <= limit:
            raise TrainError(f"ONNX export disagrees with torch: relative diff {rel:.3g} > {limit}")
        weights = Path(tmp) / TOWER_WEIGHTS
        dtype = torch.float16 if tower_dtype == "float16" else torch.float32
        save_file(
            {
                k: v.detach().to(dtype if v.is_floating_point() else v.dtype).contiguous()
                for k, v in tower.state_dict().items()
            },
            str(weights),
        )
        if text_map is None:
            text_map, map_info = text_map_for(result)
        else:
            map_info = {"text_map": "ridge fit over the tags with a pretrained vector, shrunk toward the initial map"}
        training = dict(result.summary)
        training.update(map_info)
        training.update(
            {
                "onnx_exporter": kind,
                "onnx_parity_max_abs": diff,
                "onnx_parity_relative": rel,
                "onnx_weights": "float16" if float16 else "float32",
                "description": description,
                "tower_weights": TOWER_WEIGHTS,
                "tower_dim": setup.dim,
            }
        )
        if getattr(args, "recipe_text", None):
            training["recipe"] = args.recipe_text
        if check_columns is not None:  # an export stage's extra outputs, checked against its numpy reference
            start, ref = check_columns
            training["onnx_extra_columns_max_abs_diff"] = float(
                np.abs(out[:, start : start + ref.shape[1]] - ref).max()
            )
        training.update(extra_training or {})
        if log is not None:
            log(f"ONNX ({training['onnx_weights']} weights, {kind} exporter) vs torch: relative diff {rel:.2e}")
        ts = setup.text
        path = write_bundle(
            out_dir,
            name=name,
            encoder_onnx=onnx_path,
            preprocessing=pre,
            text=TextConfig(
                ngram_min=ts.ngram_min,
                ngram_max=ts.ngram_max,
                buckets=ts.ngram_vectors.shape[0],
                pretrained_dim=ts.vectors.shape[1] if ts.vectors.size else setup.tag_pretrained.shape[1],
                source=setup.word_vectors.source,
            ),
            tags=setup.vocab.tags,
            tag_vectors=tag_vectors if tag_vectors is not None else result.table.weight.numpy(),
            tag_freq=setup.vocab.freq,
            words=ts.words,
            word_vectors=ts.vectors.reshape(len(ts.words), setup.tag_pretrained.shape[1]),
            ngram_vectors=ts.ngram_vectors,
            text_map=text_map,
            training=training,
            metrics={"onnx_parity_max_abs": diff},
            extra_files={TOWER_WEIGHTS: weights, **weights_licence(setup.args, Path(tmp))},
        )
    if description:
        import json

        mpath = path / "manifest.json"
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        manifest["description"] = description
        mpath.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path, diff


def weights_licence(args: Any, tmp: Path) -> dict[str, Path]:
    """Pretrained weights' licence and a notice of their source and of the changes, for a bundle made from
    ``--init imagenet:FILE`` (Apache-2.0 asks that both travel with converted weights): the ``LICENSE`` file
    beside the weights, and the source named in the ``README.md`` there."""
    init = str(getattr(args, "init", "") or "")
    if not init.startswith("imagenet:"):
        return {}
    src = Path(init.split(":", 1)[1])
    licence = src.parent / "LICENSE"
    if not licence.is_file():
        return {}
    readme = src.parent / "README.md"
    text = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else ""
    source = next((p.strip() for p in text.split("\n\n") if p.startswith("Source:")), "Source: not recorded.")
    notice = tmp / "NOTICE-weights.txt"
    notice.write_text(
        f"The image tower of this model starts from the pretrained network in {src.name}.\n"
        f"{' '.join(source.split())}\n"
        "Its licence travels with this bundle as LICENSE-weights.txt.\n"
        "Changes: the 8-bit weights were dequantised to floating point and converted to PyTorch and ONNX "
        "(trainer/tflite_import.py); a projection into a word space and a tag layer were added and trained.\n"
        "The network was trained on ImageNet (ILSVRC-2012), whose images are for non-commercial research and "
        "education.\n",
        encoding="utf-8",
    )
    return {"LICENSE-weights.txt": licence, "NOTICE-weights.txt": notice}


def export_bundle(
    result: TrainResult,
    out_dir: str | Path,
    *,
    name: str,
    description: str = "",
    exporter: str = "auto",
    tower_dtype: str = "float32",
) -> tuple[Path, float]:
    """The plain export: the tower as the encoder, the learned tag table as the tag matrix."""
    return write_model_bundle(
        result, out_dir, name=name, description=description, exporter=exporter, tower_dtype=tower_dtype
    )


def shrink_onnx(path: Path, min_elems: int = 4096) -> None:
    """Store large float32 weights as float16 with a Cast in front (ORT folds it at load time)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(path))
    g = m.graph
    inits, casts = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and arr.size >= min_elems:
            inits.append(numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16"))
            casts.append(
                helper.make_node(
                    "Cast", [init.name + "__fp16"], [init.name], to=TensorProto.FLOAT, name=init.name + "__cast"
                )
            )
        else:
            inits.append(numpy_helper.from_array(arr, init.name))
    nodes = casts + list(g.node)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
