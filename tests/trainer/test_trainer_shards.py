"""Tar shards (WebDataset layout): the converter, the one-pass count, the per-process stream, and
training from shards on two processes through the real command."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from distributed_testutil import launch  # noqa: E402
from trainer.data import preprocessing_for  # noqa: E402
from trainer.shards import VOCAB, ShardSource, ShardStream, count_shards, main as shards_main  # noqa: E402
from attalos_desktop.synthetic import make_dataset  # noqa: E402
from trainer_testutil import fast_args  # noqa: E402


@pytest.fixture(scope="module")
def shard_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sh")
    data = make_dataset(root / "data", 30, seed=5, size=(48, 40), test_fraction=0.2)
    assert shards_main(["--data", str(data), "--out", str(root / "shards"), "--shard-size", "6"]) == 0
    return data, root / "shards"


def test_converter_writes_webdataset_shards_and_the_count(shard_data: tuple[Path, Path]) -> None:
    data, shards = shard_data
    rows = [json.loads(x) for x in (data / "labels.jsonl").read_text().splitlines()]
    train = [r for r in rows if r.get("split", "train") == "train"]
    vocab = json.loads((shards / VOCAB).read_text())
    assert vocab["photos"] == len(train)
    assert [s["photos"] for s in vocab["shards"]][:-1] == [6] * (len(vocab["shards"]) - 1)
    want = Counter(t for r in train for t in r["tags"])
    assert dict(zip(vocab["tags"], vocab["counts"])) == dict(want)
    assert vocab["counts"] == sorted(vocab["counts"], reverse=True)
    # WebDataset layout: KEY.jpg then KEY.json, the photo's original bytes and its tags.
    with tarfile.open(shards / vocab["shards"][0]["file"]) as tar:
        names = tar.getnames()
        assert names[:2] == ["000000000.jpg", "000000000.json"]
        assert tar.extractfile(names[0]).read() == (data / train[0]["file"]).read_bytes()
        assert json.loads(tar.extractfile(names[1]).read())["tags"] == train[0]["tags"]
    # The count can be redone from the shards alone (e.g. shards written by another tool).
    (shards / VOCAB).rename(shards / "old.json")
    try:
        again = count_shards(shards)
    finally:
        (shards / "old.json").replace(shards / VOCAB)
    assert again == vocab


def test_each_process_streams_its_own_shards(shard_data: tuple[Path, Path], tmp_path: Path) -> None:
    _, shards = shard_data
    src = ShardSource.open(shards)
    vocab = src.vocabulary(1)
    pre = preprocessing_for(32)
    seen = {}
    for rank in (0, 1):
        mine = src.assignment(rank, 2)
        n = sum(src.shards[i]["photos"] for i in mine)
        stream = ShardStream(src, mine, vocab, pre, seed=0, augment="crop", local_batch=4)
        items = list(islice(iter(stream), n))
        ids = [ident[:2] for ident, _, _ in items]
        assert len(set(ids)) == n and {sid for sid, _ in ids} == set(mine)  # one full pass, own shards only
        assert all(x is not None and x.shape == (3, 32, 32) and len(t) for _, x, t in items)
        seen[rank] = set(ids)
        # Resuming mid-epoch: the stream passes over one batch's worth without decoding it.
        stream.skip_batches = 1
        assert [i for i, _, _ in islice(iter(stream), 3)] == [i for i, _, _ in items[4:7]]
    assert not seen[0] & seen[1]
    assert src.steps_per_epoch(2, 4) == min(len(seen[0]), len(seen[1])) // 4
    with pytest.raises(Exception, match="shards cannot feed"):
        src.assignment(0, len(src.shards) + 1)


def test_an_unreadable_photo_in_a_shard_is_skipped(tmp_path: Path) -> None:
    good = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 10, 10)).save(good, format="JPEG")
    with tarfile.open(tmp_path / "a.tar", "w") as tar:
        for key, img in (("x0", good.getvalue()), ("x1", b"not a jpeg")):
            for ext, data in (("jpg", img), ("json", json.dumps({"tags": ["red"]}).encode())):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    count_shards(tmp_path)
    src = ShardSource.open(tmp_path)
    stream = ShardStream(src, [0], src.vocabulary(1), preprocessing_for(32), seed=0, augment="none", local_batch=2)
    items = list(islice(iter(stream), 2))
    assert sorted(x is None for _, x, _ in items) == [False, True]


def test_two_processes_train_from_shards_and_rank0_exports_the_bundle(
    shard_data: tuple[Path, Path], tmp_path: Path
) -> None:
    _, shards = shard_data
    out = tmp_path / "bundle"
    launch(
        2,
        fast_args(shards, out, "--max-steps", "2", "--image-size", "32", "--negatives", "3"),
        tmp_path,
        tiny=False,
        cli=True,
    )
    assert [(tmp_path / f"rank{r}.code").read_text() for r in (0, 1)] == ["0", "0"]
    manifest = json.loads((out / "manifest.json").read_text())
    training = manifest["training"]
    assert training["processes"] == 2 and training["data_format"] == "shards" and training["steps"] == 2
    assert training["batch_size"] == 8 and np.isfinite(training["final_loss"])
    from attalos_desktop.core.bundle import load_bundle

    b = load_bundle(out)  # the same kind of bundle as a one-process run: the app can load it
    assert b.encoder_path.is_file() and len(b.tags) == len(json.loads((shards / VOCAB).read_text())["tags"])
