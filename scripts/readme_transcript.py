#!/usr/bin/env python3
"""Rewrite the README's quick-start transcript from a real run of the quick start.

    python scripts/readme_transcript.py            # run `bash scripts/demo.sh` as a newcomer would, rewrite README.md
    python scripts/readme_transcript.py --no-setup # skip scripts/setup.sh: run the tour with .venv/bin/python
    python scripts/readme_transcript.py --check    # exit 1 when the README's block differs in shape from a fresh run

The run sees what a newcomer sees on a fresh machine: an empty ~/Pictures (HOME is a new temporary folder)
and no demo library yet (an existing demo-library/ is moved aside for the run and put back afterwards).
Only the demo's standard output goes into the README, between the START and END markers below; setup
messages go to standard error.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
COMMAND = "bash scripts/demo.sh"
START = "<!-- quick-start transcript: written by scripts/readme_transcript.py from a real run; do not edit -->"
END = "<!-- end of quick-start transcript -->"


def run_demo(setup: bool = True, python: str | None = None) -> str:
    """The quick start's standard output on a first run (empty ~/Pictures, no demo library)."""
    env = dict(os.environ)
    env.pop("ATTALOS_DEFAULT_MODEL", None)  # the newcomer gets the bundled default model
    env.pop("ATTALOS_DEMO_LIBRARY", None)
    env.pop("ATTALOS_DEMO_PHOTOS", None)
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    aside = REPO / "demo-library"
    with tempfile.TemporaryDirectory(prefix="attalos-transcript-") as tmp:
        env["HOME"] = str(Path(tmp) / "home")
        (Path(tmp) / "home" / "Pictures").mkdir(parents=True)
        moved = None
        if aside.exists():
            moved = Path(tmp) / "demo-library.kept"
            shutil.move(str(aside), moved)
        try:
            if setup:
                cmd = ["bash", str(REPO / "scripts" / "demo.sh")]
            else:
                cmd = [python or str(REPO / ".venv" / "bin" / "python"), "-m", "attalos_desktop.quickstart"]
            r = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise SystemExit(f"the demo failed (exit status {r.returncode}):\n{r.stdout}")
            return r.stdout
        finally:
            shutil.rmtree(aside, ignore_errors=True)
            if moved is not None:
                shutil.move(str(moved), aside)


def render(output: str) -> str:
    """The README block for a run's output."""
    body = output.rstrip("\n")
    return f"{START}\n```text\n$ {COMMAND}\n{body}\n```\n{END}"


def block_in(text: str) -> str | None:
    """The transcript block in README text (markers included), or None."""
    m = re.search(re.escape(START) + r".*?" + re.escape(END), text, flags=re.S)
    return m.group(0) if m else None


def shape(block: str) -> list[str]:
    """A block reduced to what must not drift: the commands and section lines as printed, and for every
    other line its kind (timings, scores and the model's answers may differ between machines)."""
    out = []
    for line in block.splitlines():
        if line.startswith(("$ ", "== ", "```", "<!--")):
            out.append(re.sub(r" in \S*bin/;", " in <venv>/bin/;", line))  # where the venv is varies
        elif re.match(r"^\d+ new, \d+ changed, \d+ unchanged, \d+ moved, \d+ removed, \d+ failed in ", line):
            out.append("<index summary>")
        elif re.match(r"^Suggested tags for \d+ photos? \(model [^)]+\), best first:$", line):
            out.append("<tag summary>")
        elif re.match(
            r"^Best \d+ of \d+ photos? (for|like) .+ \(model [^)]+\), with the relevance the app shows:$", line
        ):
            out.append("<search summary>")
        elif re.match(r"^ +\d{1,3}%  \S", line):
            out.append("<tag>")
        elif re.match(r"^ +\d+\. +-?\d+\.\d\d  \S", line):
            out.append("<hit>")
        elif line == "":
            out.append("")
        else:
            out.append("<photo>")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--no-setup", action="store_true", help="run the tour with .venv/bin/python, without scripts/setup.sh"
    )
    ap.add_argument("--check", action="store_true", help="only compare the README's block with a fresh run")
    args = ap.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    old = block_in(text)
    if old is None:
        print(f"README.md has no transcript block (the lines {START!r} ... {END!r})", file=sys.stderr)
        return 1
    new = render(run_demo(setup=not args.no_setup))
    if args.check:
        same = shape(old) == shape(new)
        print(
            "the README's transcript has the shape of a fresh run"
            if same
            else "the README's transcript differs from a fresh run: run python scripts/readme_transcript.py"
        )
        return 0 if same else 1
    if new != old:
        README.write_text(text.replace(old, new), encoding="utf-8")
        print("README.md: transcript rewritten")
    else:
        print("README.md: transcript unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
