"""Data-parallel training: two gloo processes equal one process on the same global batches, a killed
run resumes (on another number of processes), and the launcher-facing rules hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from distributed_testutil import launch, snapshot, tiny_tower  # noqa: E402
from trainer.checkpoint import load_checkpoint  # noqa: E402
from trainer.cli import parse_args  # noqa: E402
from trainer.sampling import NegativeSampler, sample_batch  # noqa: E402
from trainer.train import train  # noqa: E402
from trainer_testutil import fast_args  # noqa: E402

# 30 train photos, global batch 8 (4 per process): 3 steps an epoch.
COMMON = ["--epochs", "2", "--negatives", "3", "--image-size", "32", "--lr", "1e-2", "--tag-lr", "0.5"]


def _quiet(_: str) -> None:
    pass


def _assert_same(a: dict[str, Any], b: dict[str, Any], atol: float = 1e-5) -> None:
    assert a["tower"].keys() == b["tower"].keys()
    for k in a["tower"]:
        assert torch.allclose(a["tower"][k], b["tower"][k], atol=atol), k
    assert torch.allclose(a["table"], b["table"], atol=atol)
    assert torch.allclose(a["state"], b["state"], rtol=1e-4, atol=1e-9)


def _train_here(argv: list[str]) -> Any:
    """One process, in this one, with the BN-free tower the workers use."""
    import trainer.prepare as T

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(T, "build_tower", tiny_tower)
        return train(parse_args(argv), _quiet)


@pytest.fixture(scope="module")
def one_process(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference: one process on the same global batches (8 photos a step)."""
    return snapshot(_train_here(fast_args(tiny_data, tmp_path_factory.mktemp("one") / "b", *COMMON)))


def test_keyed_draws_do_not_depend_on_how_the_batch_is_split() -> None:
    freq = np.array([50, 30, 10, 5, 3, 2])
    s = NegativeSampler(freq, 0.75)
    rng = np.random.default_rng(0)
    tags = [rng.choice(6, size=rng.integers(1, 4), replace=False) for _ in range(8)]
    whole = sample_batch("presampled", (0, 1, 2), 0, s, tags, 2, 5)
    halves = [sample_batch("presampled", (0, 1, 2), f, s, tags[f : f + 4], 2, 5) for f in (0, 4)]
    for a, b0, b1 in zip(whole, *halves):
        assert np.array_equal(a, np.concatenate([b0, b1]))
    pos, neg, valid = whole
    assert all(np.isin(pos[i], tags[i]).all() for i in range(8))
    assert not any(np.isin(neg[i][valid[i]], tags[i]).any() for i in range(8))


def test_two_processes_equal_one_and_a_killed_run_resumes_elsewhere(
    tiny_data: Path, tmp_path: Path, one_process: dict[str, Any]
) -> None:
    two = tmp_path / "two"
    launch(2, fast_args(tiny_data, two / "b", *COMMON), two)
    r0, r1 = (torch.load(two / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    # The processes hold the same model to the bit (same updates everywhere), equal to one process's.
    for k in r0["tower"]:
        assert torch.equal(r0["tower"][k], r1["tower"][k])
    assert torch.equal(r0["table"], r1["table"]) and torch.equal(r0["state"], r1["state"])
    _assert_same(r0, one_process)
    assert r0["summary"]["processes"] == 2 and r0["summary"]["steps"] == one_process["summary"]["steps"] == 6
    moved = (r0["state"] > 0).sum()
    assert 0 < moved <= len(r0["state"])

    # Kill rank 1 in epoch 2 (after the epoch-1 checkpoint), then resume on ONE process.
    cut = tmp_path / "cut"
    with pytest.raises(Exception):
        launch(2, fast_args(tiny_data, cut / "b", *COMMON), cut, die_at=4)
    ck = load_checkpoint(cut / "b.ckpt.pt")
    assert (ck["epoch"], ck["step"], ck["global_step"], ck["processes"]) == (1, 0, 3, 2)
    resumed = _train_here(fast_args(tiny_data, cut / "b", *COMMON, "--resume"))
    assert resumed.summary["processes"] == 1
    _assert_same(snapshot(resumed), one_process)


def test_global_batch_must_split_evenly(tiny_data: Path, tmp_path: Path) -> None:
    # 7 photos a step cannot be split over 2 processes: each process stops with the one-line reason.
    launch(2, fast_args(tiny_data, tmp_path / "b", "--batch-size", "7", "--max-steps", "1"), tmp_path, cli=True)
    assert [(tmp_path / f"rank{r}.code").read_text() for r in (0, 1)] == ["2", "2"]
