"""The ImageNet MobileNetV2 imported from TFLite (trainer.tflite_import, issue 19 item 1).

Uses the real files in ../shared/weights ($ATTALOS_SHARED overrides) and WordNet (scripts/test.sh installs
wordnet-base). The slow test compares the converted float network with the TFLite interpreter
(``ai-edge-litert``, the dev extra) on Tiny ImageNet test photos; bench/tflite_parity.py does the same
on all 2,020 of them.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tflite")

from trainer.errors import TrainError  # noqa: E402
from trainer.tflite_import import (  # noqa: E402
    FEATURES,
    TFLITE_MEAN,
    TFLITE_STD,
    convert_tflite_mobilenet_v2,
    imagenet_classes,
    load_imagenet_mobilenet_v2,
    main,
    same_pads,
)

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ATTALOS_SHARED", REPO.parent / "shared"))
WEIGHTS = SHARED / "weights"
QAT = WEIGHTS / "mobilenet_v2_1.0_224_quant.tflite"
PTQ = WEIGHTS / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
LABELS = WEIGHTS / "imagenet_labels.txt"
TINY = SHARED / "data" / "tiny-imagenet-200"

needs_weights = pytest.mark.skipif(not QAT.is_file() or not PTQ.is_file(), reason=f"no TFLite weights in {WEIGHTS}")


@pytest.fixture(scope="module")
def qat():
    if not QAT.is_file():
        pytest.skip(f"no {QAT}")
    return convert_tflite_mobilenet_v2(QAT)


def _photos(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random uint8 'photos' [n,size,size,3] (upsampled noise: nearby pixels agree, as in photos)."""
    rng = np.random.default_rng(seed)
    small = torch.from_numpy(rng.uniform(0, 255, (n, 3, 12, 12)).astype(np.float32))
    big = torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    return big.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def test_same_pads_follow_tensorflow() -> None:
    assert same_pads(224, 3, 2) == (0, 1)  # even side, stride 2: the extra pixel goes after
    assert same_pads(225, 3, 2) == (1, 1)
    assert same_pads(7, 3, 2) == (1, 1)
    assert same_pads(112, 3, 1) == (1, 1)
    assert same_pads(14, 1, 1) == (0, 0)


@needs_weights
def test_layout_and_preprocessing(qat) -> None:
    model = qat.model
    assert not model.training and next(model.parameters()).dtype == torch.float32
    assert qat.input_size == (224, 224) and (qat.input_scale, qat.input_zero_point) == (1 / 128, 128)
    assert TFLITE_MEAN == (0.5, 0.5, 0.5) and TFLITE_STD == (0.5, 0.5, 0.5)
    sd = model.state_dict()
    assert sd["features.0.0.weight"].shape == (32, 3, 3, 3) and sd["features.0.0.bias"].shape == (32,)
    assert sd["features.2.conv.1.0.weight"].shape == (96, 1, 3, 3)  # depthwise [C,1,H,W]
    assert not any("running_mean" in k for k in sd)  # batch norm folded
    assert model.classifier[1].weight.shape == (1000, FEATURES)
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        assert model.features(x).shape == (1, FEATURES, 7, 7)
        assert model(x).shape == (1, 1000)
        for side in (160, 192, 225):  # any size runs; stride-2 pads follow the input's size
            assert model.features(torch.zeros(1, 3, side, side)).shape[1:] == (FEATURES, -(-side // 32), -(-side // 32))


@needs_weights
def test_other_sizes_match_the_interpreter() -> None:
    """The Keras file pools with MEAN, so the interpreter runs it at other sizes: SAME padding must agree there."""
    Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
    conv = convert_tflite_mobilenet_v2(PTQ)
    for side in (192, 161):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": it is what it is for here
            it = Interpreter(model_path=str(PTQ), experimental_preserve_all_tensors=True, num_threads=2)
        it.resize_tensor_input(it.get_input_details()[0]["index"], [1, side, side, 3])
        it.allocate_tensors()
        scale, zero = next(d for d in it.get_tensor_details() if d["index"] == conv.pooled_tensor)["quantization"]
        imgs = _photos(3, side, seed=side)
        for img in imgs:
            it.set_tensor(it.get_input_details()[0]["index"], img[None])
            it.invoke()
            ref = (it.get_tensor(conv.pooled_tensor).reshape(-1).astype(np.float32) - zero) * scale
            x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() - conv.input_zero_point) * conv.input_scale
            with torch.no_grad():
                got = conv.model.features(x).mean((2, 3))[0].numpy()
            cos = float(ref @ got / (np.linalg.norm(ref) * np.linalg.norm(got)))
            assert cos > 0.95, (side, cos)


@pytest.mark.slow
@needs_weights
@pytest.mark.parametrize("name", [QAT.name, PTQ.name])
def test_parity_with_the_interpreter(name: str) -> None:
    """Top-1 within 2 points of the 8-bit interpreter, pooled features nearly parallel (396 photos, 2 a class)."""
    pytest.importorskip("ai_edge_litert")
    if not (TINY / "labels.jsonl").is_file():
        pytest.skip(f"no Tiny ImageNet in {TINY}")
    sys.path.insert(0, str(REPO / "bench"))
    from tflite_parity import compare, labelled_photos

    torch.set_num_threads(2)
    images, labels = labelled_photos(TINY, imagenet_classes(LABELS, up=0), per_class=2)
    r = compare(WEIGHTS / name, images, labels, mean_std=False)
    print(r)
    assert r["photos"] >= 380
    assert abs(r["top1_converted"] - r["top1_interpreter"]) <= 0.02, r
    assert r["top1_interpreter"] > 0.1, r  # the classes line up (chance is 0.001)
    assert r["feature_cosine_mean"] > 0.98 and r["feature_cosine_min"] > 0.9, r
    assert r["top1_agreement"] > 0.8, r


@needs_weights
# trainer/export.py tries both, in this order; the dynamo exporter takes 5-30 s on 2 cores
@pytest.mark.parametrize("exporter", ["legacy", pytest.param("dynamo", marks=pytest.mark.slow)])
def test_onnx_export_matches_torch(qat, tmp_path: Path, exporter: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    trunk = torch.nn.Sequential(qat.model.features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()).eval()
    x = (torch.from_numpy(_photos(2, 224)).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    path = tmp_path / "trunk.onnx"
    names = {"input_names": ["images"], "output_names": ["features"]}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer says the pads are constants: they are, at a fixed size
        if exporter == "legacy":
            dyn = {"images": {0: "batch"}, "features": {0: "batch"}}
            torch.onnx.export(trunk, (x,), str(path), **names, dynamic_axes=dyn, opset_version=17, dynamo=False)
        else:
            dyn = ({0: torch.export.Dim("batch", min=1, max=64)},)
            torch.onnx.export(trunk, (x,), str(path), **names, dynamic_shapes=dyn, opset_version=18, dynamo=True)
        want = trunk(x).numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"images": x.numpy()})[0]
    assert got.shape == (2, FEATURES)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, float(np.abs(want).max()))
    one = sess.run(None, {"images": x[:1].numpy()})[0]  # dynamic batch
    assert np.abs(one - want[:1]).max() <= 1e-4 * max(1.0, float(np.abs(want).max()))


def _tiny_tflite(path: Path, channels: int, stride: int = 2) -> Path:
    """A valid TFLite file holding one float CONV_2D (3 -> ``channels``, 3x3): not a MobileNetV2."""
    import flatbuffers
    import tflite as t

    b = flatbuffers.Builder(4096)
    rng = np.random.default_rng(0)

    def buffer(data: bytes | None) -> int:
        vec = b.CreateNumpyVector(np.frombuffer(data, np.uint8)) if data else None
        t.BufferStart(b)
        if vec is not None:
            t.BufferAddData(b, vec)
        return t.BufferEnd(b)

    def tensor(shape: list[int], buf: int, name: str) -> int:
        s, n = b.CreateNumpyVector(np.array(shape, np.int32)), b.CreateString(name)
        t.TensorStart(b)
        t.TensorAddShape(b, s)
        t.TensorAddType(b, t.TensorType.FLOAT32)
        t.TensorAddBuffer(b, buf)
        t.TensorAddName(b, n)
        return t.TensorEnd(b)

    def vector(start, items: list[int]) -> int:
        start(b, len(items))
        for x in reversed(items):
            b.PrependUOffsetTRelative(x)
        return b.EndVector()

    w = rng.normal(size=(channels, 3, 3, 3)).astype(np.float32).tobytes()
    bufs = [buffer(None), buffer(w), buffer(np.zeros(channels, np.float32).tobytes())]
    out = -(-224 // stride)
    tensors = [
        tensor([1, 224, 224, 3], 0, "input"),
        tensor([channels, 3, 3, 3], 1, "w"),
        tensor([channels], 2, "b"),
        tensor([1, out, out, channels], 0, "out"),
    ]
    t.Conv2DOptionsStart(b)
    t.Conv2DOptionsAddPadding(b, t.Padding.SAME)
    t.Conv2DOptionsAddStrideH(b, stride)
    t.Conv2DOptionsAddStrideW(b, stride)
    t.Conv2DOptionsAddFusedActivationFunction(b, t.ActivationFunctionType.RELU6)
    opts = t.Conv2DOptionsEnd(b)
    ins, outs = b.CreateNumpyVector(np.array([0, 1, 2], np.int32)), b.CreateNumpyVector(np.array([3], np.int32))
    t.OperatorStart(b)
    t.OperatorAddOpcodeIndex(b, 0)
    t.OperatorAddInputs(b, ins)
    t.OperatorAddOutputs(b, outs)
    t.OperatorAddBuiltinOptionsType(b, t.BuiltinOptions.Conv2DOptions)
    t.OperatorAddBuiltinOptions(b, opts)
    op = t.OperatorEnd(b)
    tv = vector(t.SubGraphStartTensorsVector, tensors)
    ov = vector(t.SubGraphStartOperatorsVector, [op])
    gi, go = b.CreateNumpyVector(np.array([0], np.int32)), b.CreateNumpyVector(np.array([3], np.int32))
    t.SubGraphStart(b)
    t.SubGraphAddTensors(b, tv)
    t.SubGraphAddInputs(b, gi)
    t.SubGraphAddOutputs(b, go)
    t.SubGraphAddOperators(b, ov)
    sg = t.SubGraphEnd(b)
    t.OperatorCodeStart(b)
    t.OperatorCodeAddDeprecatedBuiltinCode(b, t.BuiltinOperator.CONV_2D)
    t.OperatorCodeAddBuiltinCode(b, t.BuiltinOperator.CONV_2D)
    t.OperatorCodeAddVersion(b, 1)
    oc = t.OperatorCodeEnd(b)
    ocv, sgv, bv = (
        vector(t.ModelStartOperatorCodesVector, [oc]),
        vector(t.ModelStartSubgraphsVector, [sg]),
        vector(t.ModelStartBuffersVector, bufs),
    )
    t.ModelStart(b)
    t.ModelAddVersion(b, 3)
    t.ModelAddOperatorCodes(b, ocv)
    t.ModelAddSubgraphs(b, sgv)
    t.ModelAddBuffers(b, bv)
    b.Finish(t.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(np.random.default_rng(1).bytes(5000)), "not a TensorFlow Lite file"),
        (lambda p: p.write_text("tench, Tinca tinca\ngoldfish\n"), "not a TensorFlow Lite file"),
        (lambda p: p.write_bytes(b"\x10\x00\x00\x00TFL3" + b"\xff" * 64), "damaged TensorFlow Lite file"),
        (lambda p: _tiny_tflite(p, 16), "stem convolution weights have shape [16, 3, 3, 3]"),
        (lambda p: _tiny_tflite(p, 32, stride=1), "stem convolution has strides (1, 1)"),
        (lambda p: _tiny_tflite(p, 32), "block 1 depthwise should be DEPTHWISE_CONV_2D, found nothing"),
    ],
    ids=["random-bytes", "text", "damaged", "narrow-stem", "stride-1-stem", "truncated-graph"],
)
def test_not_a_mobilenet_v2(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str) -> None:
    bad = tmp_path / "bad.tflite"
    make(bad)
    with pytest.raises(TrainError) as err:
        convert_tflite_mobilenet_v2(bad)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
    capsys.readouterr()
    assert main([str(bad), str(tmp_path / "out.pt")]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and cap.err.startswith("error: "), cap.err
    assert message in cap.err and not (tmp_path / "out.pt").exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="cannot read"):
        convert_tflite_mobilenet_v2(tmp_path / "nothing.tflite")


@needs_weights
def test_command_writes_a_state_dict_that_build_tower_loads(qat, tmp_path: Path, capsys) -> None:
    from trainer.model import build_tower

    out = tmp_path / "mnv2.pt"
    assert main([str(QAT), str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    x = torch.from_numpy(_photos(1, 224)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        want = qat.model(x)
        assert torch.equal(load_imagenet_mobilenet_v2(out)(x), want)
        feats = qat.model.features(x).mean((2, 3))
        for init in (out, QAT):
            tower = build_tower("mobilenet_v2", 8, imagenet=str(init)).eval()
            assert torch.allclose(tower.trunk(x), feats, atol=1e-6)
    with pytest.raises(TrainError, match="not a converted MobileNetV2"):
        torch.save({"features.0.0.weight": torch.zeros(3)}, tmp_path / "other.pt")
        load_imagenet_mobilenet_v2(tmp_path / "other.pt")


@needs_weights
def test_imagenet_classes_map_to_wordnet() -> None:
    classes = imagenet_classes(LABELS)
    assert len(classes) == 1000 and [c.index for c in classes] == list(range(1000))
    wnids = [c.wnid for c in classes]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000  # ILSVRC order: sorted WordNet ids
    tabby = classes[281]
    assert tabby.names == ("tabby", "tabby cat") and tabby.word == "tabby" and tabby.wnid == "n02123045"
    assert "cat" in tabby.general, tabby
    golden = classes[207]
    assert golden.word == "golden retriever" and golden.wnid == "n02099601" and "dog" in golden.general
    assert classes[0].wnid == "n01440764" and classes[999].wnid == "n15075141"  # tench, toilet tissue
    cranes = [c for c in classes if c.word == "crane"]  # the bird and the machine: two synsets, in order
    assert [c.wnid for c in cranes] == ["n02012849", "n03126707"]
    corgi, sweater = classes[264], classes[474]  # both lines start with "cardigan"
    assert (corgi.word, corgi.wnid, sweater.word) == ("cardigan welsh corgi", "n02113186", "cardigan")
    assert "vehicle" in classes[717].general or "truck" in classes[717].general  # pickup
