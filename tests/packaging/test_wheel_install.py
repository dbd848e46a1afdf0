"""`pip install` of the built wheel into a fresh venv on a machine without a C++ compiler (issue 12.2).

Every dependency publishes wheels; the vector index is voyager (hnswlib 0.8, used before, publishes only a
source archive, so a plain install compiled it). This test hides every compiler (PATH holds none, CC/CXX
are /bin/false), installs the app's wheel alone from PyPI (or pip's cache), checks from pip's report that
voyager came as a wheel and hnswlib not at all, and runs the commands.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import clean_env, make_photos, run

pytestmark = pytest.mark.slow
COMPILERS = ("gcc", "g++", "cc", "c++", "clang", "clang++", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-g++")


def test_wheel_installs_and_runs_without_a_compiler(wheelhouse: Path, tmp_path: Path) -> None:
    python = shutil.which(os.environ.get("PYTHON", "python3"))
    assert python, "python3 not found"
    venv = tmp_path / "venv"
    run([python, "-m", "venv", str(venv)], cwd=tmp_path)
    nobin = tmp_path / "no-compilers"
    nobin.mkdir()
    path = f"{venv / 'bin'}{os.pathsep}{nobin}"
    for c in COMPILERS:
        assert shutil.which(c, path=path) is None, c
    env = clean_env(PATH=path, CC="/bin/false", CXX="/bin/false", CPP="/bin/false", LDSHARED="/bin/false")
    app_wheel = next(wheelhouse.glob("attalos_desktop-*.whl"))
    report = tmp_path / "pip-report.json"
    run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--report", str(report), str(app_wheel)],
        timeout=900,
        cwd=tmp_path,
        env=env,
    )
    # what pip fetched for each package: a wheel (.whl) or a source archive it would have had to build
    fetched = {
        item["metadata"]["name"].lower(): item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
    }
    assert fetched["voyager"].endswith(".whl"), fetched["voyager"]
    pip_list = run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], cwd=tmp_path, env=env)
    installed = {d["name"].lower(): d["version"] for d in json.loads(pip_list.stdout)}
    assert "voyager" in installed and "hnswlib" not in installed and "torch" not in installed, installed

    photos = make_photos(tmp_path / "photos", 8)
    lib = tmp_path / "library"
    res = run(
        [str(venv / "bin" / "attalos-index"), "--library", str(lib), "--json", str(tmp_path / "photos")],
        cwd=tmp_path,
        env=env,
    )
    summary = json.loads(res.stdout)
    assert summary["new"] == len(photos) and summary["failed"] == 0, summary
    res = run(
        [str(venv / "bin" / "attalos-search"), "--library", str(lib), "--json", "--limit", "3", "red"],
        cwd=tmp_path,
        env=env,
    )
    found = json.loads(res.stdout)
    assert len(found) == 3 and all(Path(r["path"]).parent == tmp_path / "photos" for r in found), found
    res = run(
        [str(venv / "bin" / "attalos-tag"), "--library", str(lib), "--json", "--top", "3", str(photos[0])],
        cwd=tmp_path,
        env=env,
    )
    assert json.loads(res.stdout), res.stdout
    # the commands ran the installed package, not the checkout
    res = run(
        [str(venv / "bin" / "python"), "-c", "import attalos_desktop, voyager; print(attalos_desktop.__file__)"],
        cwd=tmp_path,
        env=env,
    )
    assert str(venv) in res.stdout, res.stdout
    assert sys.prefix != str(venv)
