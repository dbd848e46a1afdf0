"""attalos-tag --add/--remove: the review dialog's work from the command line, and personal words."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from attalos_desktop.cli import index as cli_index
from attalos_desktop.cli import search as cli_search
from attalos_desktop.cli import tag as cli_tag
from cli_helpers import command, model_args


def run_json(capsys: pytest.CaptureFixture[str], main, argv: list[str]):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_add_remove_and_personal_words(tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = ["--library", str(tmp_path / "lib"), *model_args()]
    run_json(capsys, cli_index.main, [*lib, "--json", str(photos)])
    p0, p1, p2 = (str(photos / f"p{i}.jpg") for i in range(3))
    before = {p: (photos / Path(p).name).read_bytes() for p in (p0, p1)}

    d = run_json(capsys, cli_tag.main, [*lib, "--json", "--add", "Rex", "--add", "garden_party", p0, p1])
    assert [x["path"] for x in d] == [p0, p1]
    assert all(set(x) == {"path", "tags", "user_tags"} for x in d)
    assert d[0]["user_tags"] == ["garden party", "rex"]  # normalised as every tag is
    assert all({"tag", "score"} == set(t) for t in d[0]["tags"])
    assert "rex" not in {t["tag"] for t in d[0]["tags"]}  # your own tags are not suggested back

    # Plain attalos-tag keeps its shape and now also knows the personal words (two photos carry them).
    d = run_json(capsys, cli_tag.main, [*lib, "--json", "--top", "40", p2])
    assert set(d[0]) == {"path", "tags"}
    scores = {t["tag"]: t["score"] for t in d[0]["tags"]}
    assert "rex" in scores and 0.0 < scores["rex"] <= 1.0

    hits = run_json(capsys, cli_search.main, [*lib, "--json", "--limit", "2", "rex"])
    assert {h["path"] for h in hits} == {p0, p1} and all(h["score"] == 1.0 for h in hits)

    d = run_json(capsys, cli_tag.main, [*lib, "--json", "--remove", "rex", p1])
    assert d[0]["user_tags"] == ["garden party"]
    assert all((photos / Path(p).name).read_bytes() == b for p, b in before.items())  # originals untouched

    assert cli_tag.main([*lib, "--add", "rex", p2]) == 0  # plain output names the user's tags
    assert "your tags: rex" in capsys.readouterr().out


def test_add_refuses_photos_outside_the_library_and_empty_tags(tmp_path: Path, photos: Path) -> None:
    lib = ["--library", str(tmp_path / "lib"), *model_args()]
    assert cli_index.main([*lib, "--json", str(photos)]) == 0
    outside = tmp_path / "outside.jpg"
    outside.write_bytes((photos / "p0.jpg").read_bytes())
    for extra in (["--add", "rex", str(photos / "p0.jpg"), str(outside)], ["--add", "+++", str(photos / "p0.jpg")]):
        r = subprocess.run([*command("attalos-tag"), *lib, *extra], capture_output=True, text=True, timeout=120)
        assert r.returncode == 1, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("attalos-tag: error:") and "Traceback" not in r.stderr
    r = subprocess.run(
        [*command("attalos-tag"), *lib, "--json", str(photos / "p0.jpg")], capture_output=True, text=True, timeout=120
    )
    assert "rex" not in r.stdout  # the refused command wrote nothing


def test_sidecar_setting_from_the_command_line(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = ["--library", str(tmp_path / "lib"), *model_args()]
    run_json(capsys, cli_index.main, [*lib, "--json", str(photos)])
    assert cli_tag.main([*lib, "--sidecars", "off"]) == 0
    run_json(capsys, cli_tag.main, [*lib, "--json", "--add", "rex", str(photos / "p0.jpg")])
    assert not list(photos.glob("p0*.xmp"))  # the setting is obeyed
    run_json(capsys, cli_tag.main, [*lib, "--json", "--sidecars", "on", "--add", "cat", str(photos / "p0.jpg")])
    assert (photos / "p0.jpg.xmp").is_file() and b"cat" in (photos / "p0.jpg.xmp").read_bytes()
    with pytest.raises(SystemExit) as exc:
        cli_tag.main([*lib])  # nothing to do
    assert exc.value.code == 2
