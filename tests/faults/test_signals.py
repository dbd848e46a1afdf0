"""SIGINT / SIGTERM / SIGKILL at random moments of attalos-index: 0 photos lost, 0 duplicated, the
index equal to the catalog after a rescan, user tags kept, one line and 130/143 for the catchable ones."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

from core_helpers import make_photos
from fault_helpers import REPO, assert_clean, assert_consistent, command, digest, run, user_tags

TRIALS = 21  # 7 per signal
EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}
PACKAGE = REPO / "attalos_desktop"
FRAME = re.compile(r'^  File "([^"]+)", line (\d+)', re.M)
SUMMARY = re.compile(r"^\d+ new, \d+ changed, .* failed in [\d.]+ s \(model .*\)$", re.M)


def _handler_line() -> int:
    """The line of attalos_desktop/__init__.py that installs the early SIGINT/SIGTERM handler: from there
    on our code answers every signal itself."""
    lines = (PACKAGE / "__init__.py").read_text().splitlines()
    return next(i for i, ln in enumerate(lines, 1) if "_signal.signal(_sig, _early_exit)" in ln)


def before_our_code(sig: int, rc: int | None, out: str, err: str) -> bool:
    """True when the outcome shows the signal landed before our first handler was installed (the interpreter
    starting: its own init, ``site``, the editable-install finder, importlib finding our package), where
    nothing of ours is open and the contract's one line cannot be printed yet. Decided from what the
    process left, not from timing:

    - killed by the signal's default action, nothing printed (SIGTERM before our handler; SIGINT before
      Python installed its own);
    - SIGINT turned into KeyboardInterrupt by Python's own handler: a traceback ending in
      ``KeyboardInterrupt`` none of whose frames is in our package (except ``attalos_desktop/__init__.py``
      above the line that installs the handler), either while ``site`` was imported ("Fatal Python error:
      init_import_site", exit 1) or later (re-raised as SIGINT, exit -2).
    """
    if sig == signal.SIGKILL:
        return False  # nothing answers it, at any moment: not a question of before or after
    if rc == -sig and err == "" and out == "":
        return True
    if sig != signal.SIGINT or rc not in (1, -signal.SIGINT):
        return False
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if not lines or lines[-1] != "KeyboardInterrupt" or "Traceback (most recent call last):" not in err:
        return False
    if rc == 1 and not lines[0].startswith("Fatal Python error: init_import_site"):
        return False
    if rc == -signal.SIGINT and not lines[0].startswith("Traceback"):
        return False
    return _frames_before_handler(err)


def _frames_before_handler(traceback: str) -> bool:
    """No frame of the traceback is in our package, except attalos_desktop/__init__.py above the line
    that installs our handler."""
    early = _handler_line()
    for path, line in FRAME.findall(traceback):
        if path.startswith("<"):
            continue  # <frozen importlib._bootstrap>, <frozen site>, <string> (a .pth line)
        p = Path(path).resolve()
        if p == PACKAGE / "__init__.py" and int(line) <= early:
            continue
        if p.is_relative_to(PACKAGE):
            return False  # our code was running: it must have answered with the contract
    return True


IGNORED = re.compile(
    r"\AException ignored in: [^\n]*\nTraceback \(most recent call last\):\n(?:  [^\n]*\n)*KeyboardInterrupt:? *\n"
)


def swallowed_before_our_code(sig: int, err: str) -> tuple[bool, str]:
    """SIGINT turned into KeyboardInterrupt by Python's own handler inside a callback that cannot pass it on
    (importlib's module-lock weakref callback): Python prints "Exception ignored in: ..." and goes on as if
    no signal had come. Python's handler was still the one in place, so this was before ours was installed.
    Returns whether that happened, and the rest of stderr (which the contract then judges)."""
    m = IGNORED.match(err) if sig == signal.SIGINT else None
    if m is None or not _frames_before_handler(m.group(0)):
        return False, err
    return True, err[m.end() :]


def test_before_our_code_is_decided_from_the_output() -> None:
    """The rule above on outcomes seen in the wild, and on ones that must stay failures."""
    fatal = (
        "Fatal Python error: init_import_site: Failed to import the site module\n"
        "Python runtime state: initialized\nTraceback (most recent call last):\n"
        '  File "<frozen site>", line 186, in addpackage\n'
        '  File "/venv/lib/python3.11/site-packages/__editable___attalos_desktop_0_1_0_finder.py", line 5, in <module>\n'
        "    from importlib.util import spec_from_file_location\n"
        '  File "<frozen importlib._bootstrap>", line 254, in _requires_builtin_wrapper\nKeyboardInterrupt\n'
    )
    assert before_our_code(signal.SIGINT, 1, "", fatal)
    assert before_our_code(signal.SIGINT, -2, "", "")
    assert before_our_code(signal.SIGTERM, -15, "", "")
    importing = (
        "Traceback (most recent call last):\n"
        '  File "/venv/bin/attalos-index", line 5, in <module>\n'
        "    from attalos_desktop.cli.index import main\n"
        '  File "<frozen importlib._bootstrap>", line 1176, in _find_and_load\n'
        "{ours}KeyboardInterrupt\n"
    )
    assert before_our_code(signal.SIGINT, -2, "", importing.format(ours=""))
    early = f'  File "{PACKAGE / "__init__.py"}", line 3, in <module>\n'
    assert before_our_code(signal.SIGINT, -2, "", importing.format(ours=early))
    late = f'  File "{PACKAGE / "__init__.py"}", line {_handler_line() + 1}, in <module>\n'
    assert not before_our_code(signal.SIGINT, -2, "", importing.format(ours=late))
    running = f'  File "{PACKAGE / "cli" / "index.py"}", line 60, in main\n'
    assert not before_our_code(signal.SIGINT, -2, "", importing.format(ours=running))
    swallowed = (
        "Exception ignored in: <function _get_module_lock.<locals>.cb at 0x7fe395a9cfe0>\n"
        "Traceback (most recent call last):\n"
        '  File "<frozen importlib._bootstrap>", line 204, in cb\nKeyboardInterrupt: \n'
    )
    assert swallowed_before_our_code(signal.SIGINT, swallowed) == (True, "")
    assert swallowed_before_our_code(signal.SIGINT, swallowed + "attalos-index: error: interrupted\n")[0]
    assert not swallowed_before_our_code(signal.SIGTERM, swallowed)[0]
    assert not swallowed_before_our_code(
        signal.SIGINT, swallowed.replace("<frozen importlib._bootstrap>", str(PACKAGE / "core" / "library.py"))
    )[0]
    assert not before_our_code(signal.SIGINT, 1, "", "attalos-index: error: boom\n")
    assert not before_our_code(signal.SIGTERM, -15, "", "attalos-index: error: interrupted\n")
    assert not before_our_code(signal.SIGINT, 130, "", "attalos-index: error: interrupted\n")


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
        swallowed, err = swallowed_before_our_code(sig, err)
        if before_our_code(sig, rc, out, err):
            outcome = "before our code"
        elif rc == -sig and err == "" and SUMMARY.search(out):
            # the default action in the interpreter's last moments, after main() returned and the
            # interpreter put the default handlers back: the run was complete
            outcome = "after our code"
        else:
            # our code was running: exactly the contract
            assert rc in (0, EXPECTED[sig]), (sig, rc, err)
            if sig != signal.SIGKILL:
                lines = assert_clean(err)
                if rc == EXPECTED[sig]:
                    assert len(lines) == 1 and "interrupted" in lines[0], err
            outcome = str(rc)
        key = f"{signal.Signals(sig).name}->{outcome}" + (" (swallowed by Python before our code)" if swallowed else "")
        outcomes[key] = outcomes.get(key, 0) + 1
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
