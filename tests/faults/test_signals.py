"""SIGINT / SIGTERM / SIGKILL at random moments of attalos-index: 0 photos lost, 0 duplicated, the
index equal to the catalog after a rescan, user tags kept, one line and 130/143 for the catchable ones."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

from core_helpers import make_photos
from fault_helpers import REPO, assert_clean, assert_consistent, command, digest, run, user_tags

TRIALS = 21  # 7 per signal
EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def test_signals_at_random_moments(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "lib"
    make_photos(photos, 6, seed=1)
    r = run("attalos-index", str(photos), home=home)
    assert r.returncode == 0, r.stderr
    first = sorted(photos.glob("*.jpg"))[0]
    r = run("attalos-tag", "--add", "keepme", str(first), home=home)
    assert r.returncode == 0, r.stderr
    tags = user_tags(home)
    rng = random.Random(11)
    sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL] * (TRIALS // 3)
    rng.shuffle(sigs)
    known: set[str] = set()
    outcomes: dict[str, int] = {}
    for trial, sig in enumerate(sigs):
        make_photos(photos / f"t{trial:02d}", 3, seed=100 + trial)  # new work for every run
        originals = digest(photos)
        proc = subprocess.Popen(
            command("attalos-index") + ["--library", str(home)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.0, 1.5))  # anywhere: imports, model load, scan, decode, commit, save
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        rc = proc.returncode
        # -sig: the signal came in the interpreter's first few ms, before any of our code ran (the default
        # action; a shell reports it as 128+n too): nothing was opened, so nothing to say or checkpoint.
        assert rc in (0, EXPECTED[sig], -sig), (sig, rc, err)
        if rc == -sig and sig != signal.SIGKILL:
            assert err == "", err
        outcomes[f"{signal.Signals(sig).name}->{rc}"] = outcomes.get(f"{signal.Signals(sig).name}->{rc}", 0) + 1
        if sig != signal.SIGKILL:
            lines = assert_clean(err)
            if rc == EXPECTED[sig]:
                assert len(lines) == 1 and "interrupted" in lines[0], err
        assert digest(photos) == originals
        # nothing committed before is ever lost, nothing is there twice
        import sqlite3

        db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True)
        try:
            paths = [os.fsdecode(p) for (p,) in db.execute("SELECT path FROM photos")]
        finally:
            db.close()
        assert len(paths) == len(set(paths))
        assert known <= set(paths), "a committed photo was lost"
        known = set(paths)
    r = run("attalos-index", "--json", home=home)  # the one rescan after the last interruption
    assert r.returncode == 0, r.stderr
    assert_clean(r.stderr)
    assert_consistent(home, photos)
    assert user_tags(home) == tags
    print("outcomes:", outcomes)  # shown with -s: how many were caught mid-run vs completed first
