"""Bad input ends the command with exit status 2 and a one-line reason; bad photos are skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")

from trainer.cli import main  # noqa: E402
from trainer_testutil import fast_args  # noqa: E402


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("attalos-desktop-train: error: ")
    for n in needles:
        assert n in err, err
    return err


def test_missing_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").mkdir()
    _fails(fast_args(tmp_path / "data", tmp_path / "out"), capsys, "no labels.jsonl")


def test_malformed_line_names_its_number(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    lines = (data / "labels.jsonl").read_text().splitlines()
    lines[2] = '{"file": "images/00002.jpg", "tags": ["red",'
    (data / "labels.jsonl").write_text("\n".join(lines) + "\n")
    _fails(fast_args(data, tmp_path / "out"), capsys, "labels.jsonl:3", "malformed")
    lines[2] = '{"file": "images/00002.jpg", "tags": "red"}'
    (data / "labels.jsonl").write_text("\n".join(lines) + "\n")
    _fails(fast_args(data, tmp_path / "out"), capsys, "labels.jsonl:3", "'tags'")


def test_empty_vocabulary(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(fast_args(tiny_data, tmp_path / "out", "--min-count", "100000"), capsys, "empty vocabulary")
    data = tmp_path / "data"
    data.mkdir()
    (data / "labels.jsonl").write_text(json.dumps({"file": "a.jpg", "tags": ["  ", "+"], "split": "train"}) + "\n")
    _fails(fast_args(data, tmp_path / "out"), capsys, "empty vocabulary")


def test_unknown_backbone(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(fast_args(tiny_data, tmp_path / "out", "--backbone", "alexnet9000"), capsys, "unknown backbone", "resnet18")


def test_init_bundle_with_other_dimension(
    trained: dict, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fails(
        fast_args(tiny_data, tmp_path / "out", "--init", str(trained["bundle"]), "--dim", "64"),
        capsys,
        "dimension 256",
        "--dim 64",
    )


def test_init_that_is_not_a_bundle(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(fast_args(tiny_data, tmp_path / "out", "--init", str(tmp_path)), capsys, "--init", "manifest.json")


def test_imagenet_weights_are_never_downloaded(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fails(
        fast_args(tiny_data, tmp_path / "out", "--init", f"imagenet:{tmp_path / 'none.pth'}"),
        capsys,
        "nothing is downloaded",
    )


def test_resume_without_checkpoint(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(fast_args(tiny_data, tmp_path / "out", "--resume"), capsys, "does not exist")


def test_bad_photos_are_skipped_and_counted(tiny_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    rows = [json.loads(x) for x in (data / "labels.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["split"] == "train"]
    (data / train_rows[0]["file"]).write_bytes(b"not a jpeg at all")
    (data / train_rows[1]["file"]).unlink()
    jpg = (data / train_rows[2]["file"]).read_bytes()
    (data / train_rows[2]["file"]).write_bytes(jpg[: len(jpg) // 3])  # truncated
    out = tmp_path / "bundle"
    assert main(fast_args(data, out, "--epochs", "1", "--batch-size", "64")) == 0  # one step sees every photo
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["skipped_images"] == 3
    assert manifest["training"]["steps"] >= 1


def test_help_documents_every_flag_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    import re

    flags = sorted(set(re.findall(r"\[(--[a-z-]+)", text)))
    assert len(flags) >= 30
    for flag in flags:
        section = text.split(f" {flag}", 2)[-1][:400]  # the flag's own entry, after the usage line
        assert "(default:" in section, flag


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--preview-min-side", "500"], "larger than --image-size"),
        (["--trunk-features", "-1"], "--trunk-features must be at least 0"),
        (["--teacher", "imagenet"], "--teacher imagenet needs --trunk-features"),
        (["--teacher", "imagenet", "--trunk-features", "1"], "needs --init imagenet:FILE"),
    ],
)
def test_pretrained_trunk_flags_are_checked_before_training(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    _fails(fast_args(tiny_data, tmp_path / "out", *extra), capsys, needle)
    assert not (tmp_path / "out").exists()
