"""Training mechanics: both negative strategies, frozen vs optimised tag layer, seeds, Ctrl-C and
--resume, and continuing from an exported bundle."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from attalos_desktop.core.bundle import load_bundle  # noqa: E402
from trainer.checkpoint import load_checkpoint  # noqa: E402
from trainer.cli import main, parse_args  # noqa: E402
from trainer.prepare import initial_tag_vectors, prepare  # noqa: E402
from trainer.train import train  # noqa: E402
from trainer_testutil import fast_args  # noqa: E402


def _quiet(_: str) -> None:
    pass


@pytest.mark.parametrize("strategy", ["next-image", "presampled"])
def test_both_strategies_train_only_the_sampled_rows(tiny_data: Path, tmp_path: Path, strategy: str) -> None:
    args = parse_args(
        fast_args(tiny_data, tmp_path / "b", "--neg-strategy", strategy, "--max-steps", "2", "--negatives", "3")
    )
    setup = prepare(args, _quiet)
    before = initial_tag_vectors(setup)
    res = train(args, _quiet, setup=setup)
    after = res.table.weight.numpy()
    moved = np.abs(after - before).max(axis=1) > 0
    assert moved.any()
    assert res.summary["steps"] == 2 and res.summary["neg_strategy"] == strategy
    # Only rows that were sampled got an optimiser state: untouched rows are bitwise unchanged.
    state = res.table.state.numpy()
    assert np.array_equal(moved, state > 0)


def test_frozen_tag_layer_keeps_word_vectors_and_identity_map(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "frozen"
    assert main(fast_args(tiny_data, out, "--tag-layer", "frozen", "--max-steps", "2")) == 0
    b = load_bundle(out)
    args = parse_args(fast_args(tiny_data, out))
    setup = prepare(args, _quiet)
    assert np.allclose(b.tag_vectors, setup.tag_pretrained, atol=1e-6)  # unit word vectors, untouched
    assert np.allclose(b.text_map[:-1], np.eye(b.dim)) and not b.text_map[-1].any()
    assert b.manifest["training"]["tag_layer"] == "frozen"


def test_optimised_layer_fits_a_text_map_over_the_tags(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    assert main(fast_args(tiny_data, out, "--tag-lr", "0.5", "--max-steps", "3")) == 0
    b = load_bundle(out)
    setup = prepare(parse_args(fast_args(tiny_data, out)), _quiet)
    assert not np.allclose(b.text_map[:-1], np.eye(b.dim))
    # The fitted map sends a tag's pretrained vector closer to its learned vector than identity does.
    mapped = setup.tag_pretrained @ b.text_map[:-1] + b.text_map[-1]
    assert np.linalg.norm(mapped - b.tag_vectors) < np.linalg.norm(setup.tag_pretrained - b.tag_vectors)


def test_seed_repeats_and_ctrl_c_then_resume_equals_an_uninterrupted_run(tiny_data: Path, tmp_path: Path) -> None:
    common = ["--epochs", "2", "--negatives", "3"]
    full = train(parse_args(fast_args(tiny_data, tmp_path / "full", *common)), _quiet)
    again = train(parse_args(fast_args(tiny_data, tmp_path / "again", *common)), _quiet)
    assert torch.equal(full.table.weight, again.table.weight)  # --seed makes CPU runs repeat

    # Ctrl-C after step 4 (mid-epoch 2): a checkpoint is left, the run reports interruption.
    args = parse_args(fast_args(tiny_data, tmp_path / "cut", *common))

    def ctrl_c(step: int) -> None:
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    cut = train(args, _quiet, on_step=ctrl_c)
    assert cut.interrupted
    ck = load_checkpoint(args.checkpoint)
    assert (ck["epoch"], ck["step"], ck["global_step"]) == (1, 1, 4)
    resumed = train(parse_args(fast_args(tiny_data, tmp_path / "cut", *common, "--resume")), _quiet)
    assert not resumed.interrupted and resumed.summary["steps"] == full.summary["steps"]
    assert torch.allclose(resumed.table.weight, full.table.weight, atol=1e-6)
    for a, b in zip(resumed.tower.state_dict().values(), full.tower.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)


def test_resume_refuses_other_model_flags(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert main(fast_args(tiny_data, out, "--max-steps", "1")) == 0
    assert main(fast_args(tiny_data, out, "--resume", "--backbone", "resnet18")) == 2
    assert "--backbone" in capsys.readouterr().err


def test_init_from_bundle_continues_where_it_stopped(trained: dict, tiny_data: Path, tmp_path: Path) -> None:
    args = parse_args(fast_args(tiny_data, tmp_path / "cont", "--init", str(trained["bundle"])))
    setup = prepare(args, _quiet)
    src = load_bundle(trained["bundle"])
    init = initial_tag_vectors(setup)
    for t in ("grass", "red", "circle"):
        assert np.allclose(init[setup.vocab.index[t]], src.tag_vectors[src.tag_index(t)])
    # The tower starts from the bundle: before any step it reproduces the bundle's ONNX output.
    import onnxruntime as ort

    from trainer.prepare import build_model

    tower, _ = build_model(setup, torch.device("cpu"))
    tower.eval()
    side = src.preprocessing.input_size
    x = np.random.default_rng(1).normal(size=(2, 3, side, side)).astype(np.float32)
    with torch.no_grad():
        ref = tower(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(str(src.encoder_path), providers=["CPUExecutionProvider"])
    assert np.abs(sess.run(["embeddings"], {"images": x})[0] - ref).max() < 1e-4
    out = tmp_path / "cont"
    assert main(fast_args(tiny_data, out, "--init", str(trained["bundle"]), "--max-steps", "1")) == 0
    assert json.loads((out / "manifest.json").read_text())["training"]["init"] == str(trained["bundle"])
