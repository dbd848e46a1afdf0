"""Import an ImageNet MobileNetV2 from a TensorFlow Lite file into torchvision's ``mobilenet_v2`` (float32).

The shared weights (``../shared/weights``) are 8-bit TFLite flatbuffers: TF-Slim's quantisation-aware
MobileNetV2 (uint8, per-tensor) and Keras's post-training quantised one (int8, per-channel). This module
parses the flatbuffer with the pure-Python ``tflite`` package, walks the graph operator by operator onto
torchvision's 17 inverted residual blocks (checking every kind, stride, activation and shape), dequantises
weights and biases, and returns torchvision's network with three differences that the files dictate:

- batch norm is folded into the convolutions: each conv has a bias and each BatchNorm is ``nn.Identity``
  (torchvision's module names are kept, so ``state_dict`` keys read ``features.3.conv.1.0.weight``);
- stride-2 convolutions pad like TensorFlow's "SAME" (``TFSameConv2d``: 0 before and 1 after on an even
  side, computed from the input's size), where torchvision pads 1 on both sides;
- the input is scaled to [-1, 1] (``TFLITE_MEAN``/``TFLITE_STD``), not with ImageNet's mean and std.

The classifier drops TFLite's row 0 ("background"): its 1000 outputs are ILSVRC-2012's classes in
``imagenet_labels.txt`` order (lines 1..1000), which ``imagenet_classes`` maps to WordNet ids and words.

Command: ``python -m trainer.tflite_import IN.tflite OUT.pt`` writes the state dict (``torch.save``);
``--init imagenet:OUT.pt`` (or the ``.tflite`` itself) with ``--backbone mobilenet_v2`` starts a tower from it.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from .errors import TrainError

# The float network sees pixels mapped to [-1, 1]: x/127.5 - 1 on 0..255, i.e. (x - 0.5)/0.5 on 0..1.
TFLITE_MEAN = (0.5, 0.5, 0.5)
TFLITE_STD = (0.5, 0.5, 0.5)
FEATURES = 1280  # width of the pooled trunk features
CLASSES = 1000  # ILSVRC-2012 classes (TFLite's extra "background" output is dropped)

# torchvision's mobilenet_v2 (width 1.0): expansion t, output channels c, repeats n, first stride s.
_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
_STEM = 32
# Operators that may sit on the data path without changing the network: (de)quantisation and reshapes.
_PASS = ("QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE")
# Operators allowed after the classifier (the file's probabilities); the float network returns logits.
_TAIL = ("RESHAPE", "SQUEEZE", "SOFTMAX", "QUANTIZE", "DEQUANTIZE")


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) along one side: the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class TFSameConv2d(nn.Conv2d):
    """Conv2d that pads like TensorFlow's "SAME" for the input it gets (asymmetric when the stride is 2).

    The pads are plain integers from the input's height and width, so an ONNX export at a fixed size
    holds them as constants.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_pads(int(x.shape[-2]), self.kernel_size[0], self.stride[0], self.dilation[0])
        left, right = same_pads(int(x.shape[-1]), self.kernel_size[1], self.stride[1], self.dilation[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _conv_slots(model: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """(parent, conv name, batch norm name) of every convolution, in the order the TFLite graph runs them."""
    feats = model.features  # type: ignore[attr-defined]
    slots: list[tuple[nn.Module, str, str]] = [(feats[0], "0", "1")]
    for block in list(feats)[1:-1]:
        layers = list(block.conv)
        for cna in layers[:-2]:  # [expand,] depthwise: Conv2dNormActivation(conv, bn, relu6)
            slots.append((cna, "0", "1"))
        slots.append((block.conv, str(len(layers) - 2), str(len(layers) - 1)))  # project conv + bn
    slots.append((feats[-1], "0", "1"))
    return slots


def tflite_mobilenet_v2() -> nn.Module:
    """torchvision's ``mobilenet_v2`` laid out like the TFLite files (conv biases, no batch norm, SAME padding).

    Weights are random; ``load_tflite_mobilenet_v2`` or ``load_state_dict`` fills them.
    """
    model = torchvision.models.mobilenet_v2(weights=None, num_classes=CLASSES)
    for parent, conv_name, bn_name in _conv_slots(model):
        old = getattr(parent, conv_name)
        cls = TFSameConv2d if old.stride != (1, 1) else nn.Conv2d
        new = cls(
            old.in_channels,
            old.out_channels,
            old.kernel_size,
            stride=old.stride,
            padding=0 if cls is TFSameConv2d else old.padding,
            dilation=old.dilation,
            groups=old.groups,
            bias=True,
        )
        setattr(parent, conv_name, new)
        setattr(parent, bn_name, nn.Identity())
    return model.eval()


def mobilenet_v2_from_state_dict(sd: Mapping[str, torch.Tensor], where: str = "state dict") -> nn.Module:
    """The network of ``tflite_mobilenet_v2`` with ``sd`` loaded (eval mode, float32)."""
    model = tflite_mobilenet_v2()
    try:
        model.load_state_dict(dict(sd))
    except (RuntimeError, KeyError, TypeError) as exc:
        raise TrainError(f"{where} is not a converted MobileNetV2: {str(exc).splitlines()[0]}") from exc
    return model.float().eval()


# ---------------------------------------------------------------------------------------------- the file


@dataclass(frozen=True)
class _Op:
    index: int
    kind: str  # builtin operator name, e.g. "CONV_2D"
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any  # the flatbuffer table of its builtin options, or None


class _Graph:
    """Subgraph 0 of a TFLite model: operators, who consumes which tensor, constants dequantised."""

    def __init__(self, data: bytes, name: str) -> None:
        import tflite

        self.tfl = tflite
        self.name = name
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.data = data
        if self.model.SubgraphsLength() < 1:
            raise TrainError(f"{name}: the TensorFlow Lite file has no graph")
        self.g = self.model.Subgraphs(0)
        names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        codes = []
        for i in range(self.model.OperatorCodesLength()):
            oc = self.model.OperatorCodes(i)
            codes.append(names.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()), "UNKNOWN"))
        self.ops: list[_Op] = []
        self.consumers: dict[int, list[_Op]] = {}
        self.producer: dict[int, _Op] = {}
        for k in range(self.g.OperatorsLength()):
            op = self.g.Operators(k)
            item = _Op(
                k,
                codes[op.OpcodeIndex()],
                tuple(int(op.Inputs(i)) for i in range(op.InputsLength())),
                tuple(int(op.Outputs(i)) for i in range(op.OutputsLength())),
                op.BuiltinOptions(),
            )
            self.ops.append(item)
            for t in item.inputs:
                if t >= 0:
                    self.consumers.setdefault(t, []).append(item)
            for t in item.outputs:
                self.producer[t] = item
        self.used: set[int] = set()

    # -- tensors
    def shape(self, t: int) -> tuple[int, ...]:
        tensor = self.g.Tensors(t)
        return tuple(int(x) for x in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()

    def quant(self, t: int) -> tuple[np.ndarray, np.ndarray, int] | None:
        """(scales, zero points, quantized dimension), or None for a float tensor."""
        q = self.g.Tensors(t).Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        zp = q.ZeroPointAsNumpy() if q.ZeroPointLength() else np.zeros(1, np.int64)
        return np.asarray(q.ScaleAsNumpy(), np.float64), np.asarray(zp, np.float64), int(q.QuantizedDimension())

    def const(self, t: int, what: str, *, dequantise: bool = True) -> np.ndarray:
        """A constant tensor as float32, dequantised (per tensor or per channel); follows a DEQUANTIZE op.

        ``dequantise=False``: the stored values as they are (integer axes, shapes).
        """
        tt = self.tfl.TensorType
        dtypes = {
            tt.FLOAT32: np.float32,
            tt.FLOAT16: np.float16,
            tt.INT32: np.int32,
            tt.UINT8: np.uint8,
            tt.INT8: np.int8,
            tt.INT16: np.int16,
            tt.INT64: np.int64,
        }
        tensor = self.g.Tensors(t)
        buf = self.model.Buffers(tensor.Buffer())
        raw: np.ndarray | None = None
        if buf is not None and hasattr(buf, "Offset") and buf.Offset() > 1:  # after the flatbuffer (files > 2 GB)
            raw = np.frombuffer(self.data, np.uint8, count=int(buf.Size()), offset=int(buf.Offset()))
        elif buf is not None and buf.DataLength():
            raw = buf.DataAsNumpy()
        if raw is None:
            src = self.producer.get(t)
            if src is not None and src.kind == "DEQUANTIZE":  # float16 / int8 weights dequantised at run time
                self.used.add(src.index)
                return self.const(src.inputs[0], what, dequantise=dequantise)
            raise TrainError(f"{self.name}: {what} is not a constant tensor (operator graph not supported)")
        if tensor.Type() not in dtypes:
            raise TrainError(f"{self.name}: {what} has an unsupported tensor type {tensor.Type()}")
        shape = self.shape(t)
        arr = np.frombuffer(raw.tobytes(), dtypes[tensor.Type()])
        if arr.size != math.prod(shape):
            raise TrainError(f"{self.name}: {what} holds {arr.size} values for shape {list(shape)}")
        arr = arr.reshape(shape)
        q = self.quant(t)
        if not dequantise:
            return arr
        if arr.dtype.kind == "f":
            return arr.astype(np.float32)
        if q is None:
            raise TrainError(f"{self.name}: {what} is stored as integers without quantisation parameters")
        scale, zp, axis = q
        if scale.size == 1:
            out = (arr.astype(np.float64) - zp.reshape(-1)[0]) * scale[0]
        else:
            if axis >= arr.ndim or arr.shape[axis] != scale.size or zp.size not in (1, scale.size):
                raise TrainError(
                    f"{self.name}: {what} has {scale.size} scales for shape {list(shape)} along dimension {axis}"
                )
            b = [1] * arr.ndim
            b[axis] = -1
            zero = zp.reshape(b) if zp.size > 1 else zp.reshape(-1)[0]
            out = (arr.astype(np.float64) - zero) * scale.reshape(b)
        return out.astype(np.float32)

    # -- walking
    def take(self, cursor: int, kinds: Sequence[str], what: str) -> tuple[_Op, int]:
        """The next operator of one of ``kinds`` reading ``cursor`` (skipping quantise/reshape ops on the way).

        Returns the operator and the tensor it read (``cursor`` or what the skipped operators made of it).
        """
        while True:
            ops = [o for o in self.consumers.get(cursor, []) if o.index not in self.used]
            hit = [o for o in ops if o.kind in kinds and (o.inputs[0] == cursor or o.kind == "ADD")]
            if len(hit) == 1:
                self.used.add(hit[0].index)
                return hit[0], cursor
            passes = [o for o in ops if o.kind in _PASS and o.inputs[0] == cursor]
            if not hit and len(ops) == 1 and len(passes) == 1:
                nxt = passes[0].outputs[0]
                if math.prod(self.shape(nxt)) != math.prod(self.shape(cursor)):
                    break
                self.used.add(passes[0].index)
                cursor = nxt
                continue
            break
        found = ", ".join(sorted({o.kind for o in ops})) or "nothing"
        raise TrainError(
            f"{self.name}: not torchvision's MobileNetV2: {what} should be {'/'.join(kinds)}, found {found}"
        )

    def options(self, op: _Op, cls_name: str) -> Any:
        if op.options is None:
            raise TrainError(f"{self.name}: operator {op.index} ({op.kind}) has no options")
        opts = getattr(self.tfl, cls_name)()
        opts.Init(op.options.Bytes, op.options.Pos)
        return opts


@dataclass
class _Layer:
    weight: np.ndarray  # torch layout: OIHW, [C,1,H,W] for depthwise, [out, in] for the classifier
    bias: np.ndarray


@dataclass(frozen=True)
class TFLiteMobileNetV2:
    """A converted file: the float network plus what a check against the TFLite interpreter needs."""

    model: nn.Module  # eval mode, float32; .features (-> 1280 channels) and .classifier (Linear 1280 -> 1000)
    input_size: tuple[int, int]  # (height, width) the file was made for
    input_scale: float  # the file's input quantisation: float = scale * (pixel - zero_point)
    input_zero_point: int
    pooled_tensor: int  # index of the 1280-d pooled features tensor in the file (interpreter.get_tensor)
    sha256: str


def _walk(gr: _Graph) -> tuple[list[_Layer], _Layer, tuple[int, int], tuple[float, int], int]:
    """Map the graph onto the network: (conv layers in order, classifier, input size, input quantisation, pool)."""
    tfl = gr.tfl
    name = gr.name
    if gr.g.InputsLength() != 1:
        raise TrainError(f"{name}: not an image classifier: {gr.g.InputsLength()} inputs (expected 1)")
    inp = int(gr.g.Inputs(0))
    ishape = gr.shape(inp)
    if len(ishape) != 4 or ishape[3] != 3 or ishape[1] < 32 or ishape[2] < 32:
        raise TrainError(f"{name}: input shape {list(ishape)} is not [1, H, W, 3] images")
    q = gr.quant(inp)
    in_quant = (float(q[0][0]), int(q[1].reshape(-1)[0])) if q is not None else (1.0, 0)
    h, w = ishape[1], ishape[2]
    layers: list[_Layer] = []

    def conv(cursor: int, what: str, cout: int, k: int, stride: int, relu6: bool, depthwise: bool = False) -> int:
        nonlocal h, w
        kind = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
        op, read = gr.take(cursor, (kind,), what)
        cin = gr.shape(read)[-1]
        opts = gr.options(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
        got = (opts.StrideH(), opts.StrideW())
        if got != (stride, stride) or (opts.DilationHFactor(), opts.DilationWFactor()) != (1, 1):
            raise TrainError(f"{name}: {what} has strides {got} (expected {stride}) or dilation")
        if opts.Padding() != tfl.Padding.SAME and k > 1:
            raise TrainError(f"{name}: {what} pads VALID; only SAME padding is supported")
        act = tfl.ActivationFunctionType.RELU6 if relu6 else tfl.ActivationFunctionType.NONE
        if opts.FusedActivationFunction() != act:
            raise TrainError(f"{name}: {what} has activation {opts.FusedActivationFunction()} (expected {act})")
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            raise TrainError(f"{name}: {what} has no bias")
        wt = gr.const(op.inputs[1], f"{what} weights")
        bias = gr.const(op.inputs[2], f"{what} bias")
        if depthwise:
            want = (1, k, k, cout)
            if cout != cin:
                raise TrainError(f"{name}: {what} maps {cin} to {cout} channels (expected a depth multiplier of 1)")
        else:
            want = (cout, k, k, cin)
        if wt.shape != want or bias.shape != (cout,):
            raise TrainError(
                f"{name}: {what} weights have shape {list(wt.shape)} (expected {list(want)}): other architecture"
            )
        h, w = -(-h // stride), -(-w // stride)
        out = op.outputs[0]
        if gr.shape(out)[-3:] != (h, w, cout):
            raise TrainError(f"{name}: {what} outputs {list(gr.shape(out))} (expected [1, {h}, {w}, {cout}])")
        weight = wt[0].transpose(2, 0, 1)[:, None] if depthwise else wt.transpose(0, 3, 1, 2)
        layers.append(_Layer(np.ascontiguousarray(weight), bias))
        return out

    x = conv(inp, "the stem convolution", _STEM, 3, 2, True)
    cin = _STEM
    block = 0
    for t, c, n, s in _SETTING:
        for i in range(n):
            block += 1
            stride = s if i == 0 else 1
            what = f"block {block}"
            y = x
            if t != 1:
                y = conv(y, f"{what} expand", cin * t, 1, 1, True)
            y = conv(y, f"{what} depthwise", cin * t, 3, stride, True, depthwise=True)
            y = conv(y, f"{what} project", c, 1, 1, False)
            if stride == 1 and cin == c:
                add, _ = gr.take(y, ("ADD",), f"{what} residual")
                others = [v for v in add.inputs if v != y]
                opts = gr.options(add, "AddOptions")
                if len(add.inputs) != 2 or others != [x] or opts.FusedActivationFunction() != 0:
                    raise TrainError(f"{name}: {what} residual does not add the block's input")
                y = add.outputs[0]
            x, cin = y, c
    x = conv(x, "the last convolution", FEATURES, 1, 1, True)
    pool, read = gr.take(x, ("AVERAGE_POOL_2D", "MEAN"), "the global average pool")
    if pool.kind == "MEAN":
        axes = sorted(int(a) % 4 for a in gr.const(pool.inputs[1], "the pool axes", dequantise=False).reshape(-1))
        if axes != [1, 2]:
            raise TrainError(f"{name}: the final MEAN reduces axes {axes} (expected [1, 2])")
    else:
        opts = gr.options(pool, "Pool2DOptions")
        if (opts.FilterHeight(), opts.FilterWidth()) != (h, w):
            raise TrainError(f"{name}: the average pool covers {opts.FilterHeight()}x{opts.FilterWidth()} of {h}x{w}")
    pooled = pool.outputs[0]
    if math.prod(gr.shape(pooled)) != FEATURES:
        raise TrainError(f"{name}: the pooled features have shape {list(gr.shape(pooled))} (expected 1280 values)")
    head, _ = gr.take(pooled, ("CONV_2D", "FULLY_CONNECTED"), "the classifier")
    opts = gr.options(head, "Conv2DOptions" if head.kind == "CONV_2D" else "FullyConnectedOptions")
    if opts.FusedActivationFunction() != 0 or len(head.inputs) < 3 or head.inputs[2] < 0:
        raise TrainError(f"{name}: the classifier has an activation or no bias")
    wt = gr.const(head.inputs[1], "the classifier weights")
    bias = gr.const(head.inputs[2], "the classifier bias")
    wt = wt.reshape(wt.shape[0], -1)
    if wt.shape[1] != FEATURES or wt.shape[0] not in (CLASSES, CLASSES + 1) or bias.shape != (wt.shape[0],):
        raise TrainError(f"{name}: the classifier maps {wt.shape[1]} features to {wt.shape[0]} classes (expected 1001)")
    if wt.shape[0] == CLASSES + 1:  # row 0: TF-Slim's "background"
        wt, bias = wt[1:], bias[1:]
    classifier = _Layer(np.ascontiguousarray(wt), bias)
    left = [o for o in gr.ops if o.index not in gr.used and o.kind not in _TAIL]
    if left:
        raise TrainError(
            f"{name}: not torchvision's MobileNetV2: unexpected operator {left[0].kind} ({len(left)} left)"
        )
    return layers, classifier, (ishape[1], ishape[2]), in_quant, pooled


def convert_tflite_mobilenet_v2(path: str | Path) -> TFLiteMobileNetV2:
    """Read a MobileNetV2 (width 1.0) ``.tflite`` file; TrainError with a one-line reason for any other file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrainError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TrainError(f"{path} is not a TensorFlow Lite file (no TFL3 identifier)")
    try:
        import tflite  # noqa: F401
    except ImportError as exc:
        raise TrainError("reading .tflite files needs the tflite package: pip install 'tflite>=2.10'") from exc
    try:
        layers, classifier, size, in_quant, pooled = _walk(_Graph(data, str(path)))
    except TrainError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged flatbuffer fails anywhere in the parser
        raise TrainError(f"{path}: damaged TensorFlow Lite file ({type(exc).__name__}: {exc})".splitlines()[0]) from exc
    model = tflite_mobilenet_v2()
    slots = _conv_slots(model)
    if len(slots) != len(layers):  # the walk follows _SETTING, as torchvision does
        raise TrainError(f"{path}: {len(layers)} convolutions for {len(slots)} in torchvision's network")
    with torch.no_grad():
        for (parent, conv_name, _), layer in zip(slots, layers):
            conv = getattr(parent, conv_name)
            conv.weight.copy_(torch.from_numpy(layer.weight))
            conv.bias.copy_(torch.from_numpy(layer.bias))
        linear = model.classifier[1]
        linear.weight.copy_(torch.from_numpy(classifier.weight))
        linear.bias.copy_(torch.from_numpy(classifier.bias))
    return TFLiteMobileNetV2(
        model=model.float().eval(),
        input_size=size,
        input_scale=in_quant[0],
        input_zero_point=in_quant[1],
        pooled_tensor=pooled,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def load_tflite_mobilenet_v2(path: str | Path) -> nn.Module:
    """The float torchvision MobileNetV2 in a ``.tflite`` file (eval mode; inputs scaled with TFLITE_MEAN/STD)."""
    return convert_tflite_mobilenet_v2(path).model


def load_imagenet_mobilenet_v2(path: str | Path) -> nn.Module:
    """A ``.tflite`` file or a state dict written by this module's command -> the float network."""
    path = Path(path)
    if path.suffix.lower() == ".tflite":
        return load_tflite_mobilenet_v2(path)
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - not a torch file
        raise TrainError(f"cannot load {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise TrainError(f"{path} holds no state dict")
    return mobilenet_v2_from_state_dict(sd, str(path))


# ------------------------------------------------------------------------------------- ImageNet classes


@dataclass(frozen=True)
class ImagenetClass:
    """One ILSVRC-2012 class: its output index, WordNet synset and words."""

    index: int  # 0..999, the converted classifier's output
    names: tuple[str, ...]  # the label line's synonyms as written ("tabby", "tabby cat")
    word: str  # display word: the first synonym, lower case ("tabby"), unless another class starts with it
    wnid: str  # "n02123045"
    general: tuple[str, ...]  # WordNet general words, nearest first ("domestic cat", "cat", ...)


def imagenet_classes(
    labels_path: str | Path,
    wordnet: Any = None,
    *,
    up: int = 4,
    min_root_depth: int = 5,
    keep: Callable[[str], bool] | None = None,
) -> list[ImagenetClass]:
    """The 1000 classes of ``imagenet_labels.txt`` (1001 lines with "background" first, or 1000) with WordNet.

    Each line's synonym list is matched against the noun synsets of its words; ILSVRC order is sorted by
    WordNet id, so each class takes the first matching synset after the previous class's (this separates
    the two "crane"s and the two "maillot"s, and checks the order). ``wordnet``: a ``hypernyms.WordNet``
    or None (the system's). ``up``/``min_root_depth``/``keep`` choose the general words as the trainer does.
    """
    from attalos_desktop.core.tags import normalize_tag

    from .hypernyms import WordNet, general_words

    try:
        lines = [x.strip() for x in Path(labels_path).read_text(encoding="utf-8").splitlines() if x.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainError(f"cannot read ImageNet labels {labels_path}: {exc}") from exc
    if len(lines) == CLASSES + 1 and lines[0].lower() == "background":
        lines = lines[1:]
    if len(lines) != CLASSES:
        raise TrainError(f"{labels_path}: {len(lines)} class lines (expected 1000, or 1001 with background first)")
    wn = wordnet if wordnet is not None else WordNet.load()
    keep_word = keep or (lambda _w: True)
    out: list[ImagenetClass] = []
    prev = -1
    for i, line in enumerate(lines):
        names = tuple(s.strip() for s in line.split(",") if s.strip())
        want = [normalize_tag(s) for s in names]
        candidates = sorted({o for s in names for o in wn.noun_synsets(s)})
        exact = [o for o in candidates if o > prev and wn.lemmas(o) == want]
        loose = [o for o in candidates if o > prev and set(want) <= set(wn.lemmas(o))]
        found = (exact or loose)[:1]
        if not found:
            raise TrainError(f"{labels_path}: class {i + 1} {line!r} matches no WordNet noun synset after n{prev:08d}")
        prev = found[0]
        general = general_words(wn, prev, up, min_root_depth, keep_word) if up > 0 else []
        out.append(ImagenetClass(i, names, want[0], f"n{prev:08d}", tuple(general)))
    # A first synonym two classes share ("cardigan": the corgi and the sweater) gives way to the class's next
    # synonym that no other class starts with ("cardigan welsh corgi"); the two cranes keep "crane".
    firsts = Counter(c.word for c in out)
    for k, c in enumerate(out):
        if firsts[c.word] > 1:
            alt = next((normalize_tag(s) for s in c.names[1:] if normalize_tag(s) not in firsts), None)
            if alt:
                out[k] = replace(c, word=alt)
    return out


# ---------------------------------------------------------------------------------------------- command


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainer.tflite_import IN.tflite OUT.pt``: exit 0, or 2 with a one-line reason."""
    parser = argparse.ArgumentParser(
        prog="python -m trainer.tflite_import",
        description="Convert an ImageNet MobileNetV2 .tflite file into a torchvision state dict (float32).",
    )
    parser.add_argument("tflite", help="MobileNetV2 .tflite file (8-bit or float)")
    parser.add_argument("out", help="where to write the state dict (torch.save)")
    args = parser.parse_args(argv)
    try:
        conv = convert_tflite_mobilenet_v2(args.tflite)
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp")
            torch.save(conv.model.state_dict(), tmp)
            tmp.replace(out)
        except OSError as exc:
            raise TrainError(f"cannot write {out}: {exc.strerror or exc}") from exc
    except TrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = sum(p.numel() for p in conv.model.parameters())
    h, w = conv.input_size
    print(
        f"wrote {out}: torchvision mobilenet_v2 state dict, {n:,} float32 parameters "
        f"(batch norm folded, TF SAME padding), from {args.tflite} (sha256 {conv.sha256[:12]}, "
        f"{h}x{w} input, pixels scaled to [-1, 1]: mean {TFLITE_MEAN[0]} std {TFLITE_STD[0]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
