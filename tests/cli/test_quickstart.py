"""The quick start end to end on the sample library, with the shipped default model, as a newcomer runs it;
and the README's transcript of it (scripts/readme_transcript.py keeps the two in step)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attalos_desktop import samples
from attalos_desktop.core.bundle import DEFAULT_MODEL_ENV, resources_models_dir
from cli_helpers import REPO, command

DEFAULT_MODEL = (resources_models_dir() / "DEFAULT").read_text(encoding="utf-8").strip()


def _transcript_module():
    spec = importlib.util.spec_from_file_location("readme_transcript", REPO / "scripts" / "readme_transcript.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tour's output on a fresh machine: empty ~/Pictures, no library, no network, the default model."""
    assert importlib.util.find_spec("skimage") is not None, (
        "the quick start's sample photos come from scikit-image: pip install -e '.[dev]'"
    )
    work = tmp_path_factory.mktemp("quickstart")
    (work / "home" / "Pictures").mkdir(parents=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in (DEFAULT_MODEL_ENV, "ATTALOS_DEMO_LIBRARY", "ATTALOS_DEMO_PHOTOS", "ATTALOS_HOME")
    }
    # Anything that tried the network would fail here rather than quietly download.
    env.update(
        HOME=str(work / "home"),
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        no_proxy="",
        NO_PROXY="",
    )
    r = subprocess.run(
        [sys.executable, "-m", "attalos_desktop.quickstart"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    return work, r.stdout


def test_quick_start_tags_and_searches_the_sample_photos(first_run: tuple[Path, str]) -> None:
    work, out = first_run
    ok, skipped = samples.check()
    assert len(ok) == len(samples.SAMPLES) and not skipped, skipped  # every listed licence is still stated
    data = samples.skimage_data_dir()
    for s in ok:  # copied as they are, nothing generated
        assert (work / "sample-photos" / s.file).read_bytes() == (data / s.file).read_bytes()

    lines = out.splitlines()
    assert lines[0].startswith(
        f"== nothing in ~/Pictures: copied {len(ok)} sample photos from scikit-image to sample-photos/"
    )
    assert "$ attalos-index --library demo-library sample-photos" in lines
    assert any(
        re.match(rf"^{len(ok)} new, 0 changed, .* 0 failed in .*\(model {DEFAULT_MODEL}, ", ln) for ln in lines
    ), out

    # Tags: a summary line, then each photo (relative path) with TOP tags as percentages.
    i = lines.index(f"Suggested tags for 3 photos (model {DEFAULT_MODEL}), best first:")
    for name in ("chelsea.png", "astronaut.png", "rocket.jpg"):
        i += 1
        assert lines[i] == f"sample-photos/{name}"
        pcts = []
        for _ in range(5):
            i += 1
            m = re.match(r"^ +(\d{1,3})%  (\S.*)$", lines[i])
            assert m, lines[i]
            pcts.append(int(m.group(1)))
        assert pcts == sorted(pcts, reverse=True) and 0 <= pcts[-1] and pcts[0] <= 100

    # Searches: a summary line (how many photos, which model), then ranked hits with the grid's relevance.
    for q in ("cat", "person", "space"):
        assert f"$ attalos-search --library demo-library --limit 3 {q}" in lines
        i = lines.index(
            f'Best 3 of {len(ok)} photos for "{q}" (model {DEFAULT_MODEL}), with the relevance the app shows:'
        )
        scores = []
        for rank in (1, 2, 3):
            m = re.match(rf"^ +{rank}\. +(-?\d\.\d\d)  sample-photos/(\S+)$", lines[i + rank])
            assert m and (work / "sample-photos" / m.group(2)).is_file(), lines[i + rank]
            scores.append(float(m.group(1)))
        assert scores == sorted(scores, reverse=True)
    assert lines[-1].strip().endswith("attalos-desktop --library demo-library")

    # The JSON shapes did not change with the readable output.
    lib = ["--library", str(work / "demo-library")]
    env = {k: v for k, v in os.environ.items() if k != DEFAULT_MODEL_ENV}
    r = subprocess.run(
        [*command("attalos-tag"), *lib, "--json", "--top", "2", "sample-photos/coffee.png"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    d = json.loads(r.stdout)
    assert [set(x) for x in d] == [{"path", "tags"}] and d[0]["path"] == str(work / "sample-photos" / "coffee.png")
    assert [set(t) for t in d[0]["tags"]] == [{"tag", "score"}] * 2
    r = subprocess.run(
        [*command("attalos-search"), *lib, "--json", "--limit", "2", "coffee"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    hits = json.loads(r.stdout)
    assert [set(h) for h in hits] == [{"path", "score"}] * 2 and all(os.path.isabs(h["path"]) for h in hits)


def test_readme_shows_the_quick_start_as_it_runs(first_run: tuple[Path, str]) -> None:
    rt = _transcript_module()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", quick, flags=re.S)
    assert commands, "the quick start opens with its commands"
    assert [ln.split("#")[0].strip() for ln in commands.group(1).strip().splitlines()] == [
        "bash scripts/demo.sh",
        "bash scripts/test.sh",
    ]
    block = rt.block_in(quick)
    assert block, "the quick start shows the demo's transcript (python scripts/readme_transcript.py writes it)"
    assert f"$ {rt.COMMAND}" in block and (REPO / "scripts" / "demo.sh").is_file()
    # The commands it shows exist, and the block has the shape of a fresh run (only timings, scores and
    # the model's answers may differ between machines): rerun scripts/readme_transcript.py when this fails.
    scripts = re.findall(r"^(attalos-[a-z-]+) = ", (REPO / "pyproject.toml").read_text(encoding="utf-8"), flags=re.M)
    for ln in block.splitlines():
        if ln.startswith("$ attalos-"):
            assert ln.split()[1] in scripts, ln
    _, out = first_run
    assert rt.shape(block) == rt.shape(rt.render(out))


def test_a_sample_whose_licence_statement_changed_is_left_out(tmp_path: Path) -> None:
    data = samples.skimage_data_dir()
    fake = tmp_path / "data"
    fake.mkdir()
    for s in samples.SAMPLES[:2]:
        shutil.copy(data / s.file, fake / s.file)
    src = (data / "_fetchers.py").read_text(encoding="utf-8")
    first = samples.SAMPLES[0]
    assert first.statement in src
    (fake / "_fetchers.py").write_text(src.replace(first.statement, "All rights reserved"), encoding="utf-8")
    ok, skipped = samples.check(fake)
    assert [s.file for s in ok] == [samples.SAMPLES[1].file]
    assert any(ln.startswith(first.file) and "licence" in ln for ln in skipped)
    assert any("not in the installed scikit-image" in ln for ln in skipped)  # the rest are missing here
