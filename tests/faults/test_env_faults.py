"""Full disk, odd files (FIFO, socket, device), a read-only HOME, huge images: one line, never a hang."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from core_helpers import make_photos
from fault_helpers import REPO, assert_clean, assert_consistent, can_mount, command, digest, read_only, run, user_tags


# -- disk full ---------------------------------------------------------------------------------------------
def _fill(folder: Path, leave: int) -> Path:
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


@pytest.mark.skipif(not can_mount(), reason="a small tmpfs needs root (RLIMIT_FSIZE variant below)")
@pytest.mark.parametrize("leave_kb", [8, 48, 120, 400])
def test_disk_full_at_several_levels(tmp_path: Path, leave_kb: int) -> None:
    photos, mnt = tmp_path / "photos", tmp_path / "disk"
    make_photos(photos, 8, seed=2)
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    try:
        home = mnt / "lib"
        r = run("attalos-index", str(photos), home=home)
        assert r.returncode == 0, r.stderr
        first = sorted(photos.glob("*.jpg"))[0]
        assert run("attalos-tag", "--add", "precious", str(first), home=home).returncode == 0
        tags = user_tags(home)
        make_photos(photos / "more", 6, seed=3)
        originals = digest(photos)
        filler = _fill(mnt, leave_kb * 1024)
        for args in (
            ["attalos-index", "--json"],
            ["attalos-tag", "--add", "more", str(first)],
            ["attalos-search", "--json", "red"],
        ):
            r = run(args[0], *args[1:], home=home)
            assert r.returncode in (0, 1), r.stderr
            lines = assert_clean(r.stderr)
            if r.returncode == 1:
                assert "disk full" in lines[0] or "space" in lines[0], lines
        filler.unlink()
        r = run("attalos-index", "--json", home=home)  # space back: one rescan and all is well
        assert r.returncode == 0, r.stderr
        assert_consistent(home, photos)
        assert tags <= user_tags(home)
        assert digest(photos) == originals
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_file_size_limit(tmp_path: Path) -> None:
    """Without root: RLIMIT_FSIZE (ulimit -f) makes every write past the limit fail with EFBIG."""
    photos, home = tmp_path / "photos", tmp_path / "lib"
    make_photos(photos, 8, seed=4)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    r = subprocess.run(
        command("attalos-index") + ["--library", str(home), "--json", str(photos)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        preexec_fn=limit,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(assert_clean(r.stderr)) == 1
    r = run("attalos-index", "--json", str(photos), home=home)  # the same command again, without the limit
    assert r.returncode == 0, r.stderr
    assert_consistent(home, photos)


# -- odd files ---------------------------------------------------------------------------------------------
def test_fifo_socket_device_are_refused_not_opened(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "lib"
    make_photos(photos, 3, seed=5)
    os.mkfifo(photos / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(photos / "sock.jpg"))
    (photos / "dev.jpg").symlink_to("/dev/zero")  # a device (reading it would never end)
    try:
        r = run("attalos-index", "--json", str(photos), home=home, timeout=60)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["new"] == 3
        reasons = {Path(f["path"]).name: f["reason"] for f in out["failures"]}
        assert set(reasons) == {"pipe.jpg", "sock.jpg", "dev.jpg"}
        assert all("not a regular file" in why for why in reasons.values()), reasons
        for odd in ("pipe.jpg", "sock.jpg", "dev.jpg"):
            r = run("attalos-tag", "--json", str(photos / odd), home=home, timeout=30)
            assert r.returncode == 0 and "not a regular file" in json.loads(r.stdout)[0]["error"]
            r = run("attalos-search", "--similar", str(photos / odd), home=home, timeout=30)
            assert r.returncode == 1 and "not a regular file" in assert_clean(r.stderr)[0]
        r = run("attalos-tag", "--json", "/dev/null", home=home, timeout=30)
        assert r.returncode == 0 and "error" in json.loads(r.stdout)[0]
    finally:
        sock.close()


# -- privacy -----------------------------------------------------------------------------------------------
def _env(home: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the app must set it itself
    env["HOME"] = str(home)
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        env[var] = str(home / var.lower())
    env.pop("ATTALOS_HOME", None)
    return env


@pytest.mark.parametrize("readonly", [False, True])
def test_nothing_written_outside_library_and_only_our_messages(tmp_path: Path, readonly: bool) -> None:
    if readonly and not can_mount() and os.geteuid() == 0:
        pytest.skip("read-only HOME for root needs a bind mount")
    photos, lib, fake_home = tmp_path / "photos", tmp_path / "lib", tmp_path / "home"
    make_photos(photos, 3, seed=6)
    fake_home.mkdir()
    env = _env(fake_home)
    runs = [
        ("attalos-index", "--json", str(photos)),
        ("attalos-tag", "--json", str(sorted(photos.iterdir())[0])),
        ("attalos-search", "--json", "red"),
        ("attalos-index", "--check"),
    ]

    def go() -> None:
        for args in runs:
            r = run(args[0], *args[1:], home=lib, env=env)
            assert r.returncode == 0, r.stderr
            assert r.stderr == "", r.stderr  # no telemetry warning, nothing but ours (and here: nothing)

    if readonly:
        with read_only(fake_home):
            go()
    else:
        go()
    assert list(fake_home.rglob("*")) == [], list(fake_home.rglob("*"))


# -- memory ceiling ----------------------------------------------------------------------------------------
def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG declaring w x h RGB pixels (under Pillow's bomb limit) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_huge_png_is_refused_by_the_memory_ceiling_cheaply(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    _png_header_only(big, 13000, 13000)
    # Linux carries a forked child's pre-exec peak (this big pytest process) into its ru_maxrss, so the
    # command runs under a small wrapper process and the wrapper reports its child's peak.
    wrapper = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            wrapper,
            *command("attalos-tag"),
            "--library",
            str(tmp_path / "lib"),
            "--json",
            str(big),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "memory ceiling" in json.loads(r.stdout)[0]["error"]
    peak_kib = int(r.stderr.strip().splitlines()[-1])
    assert peak_kib < 600 * 1024  # the 0.5 GB pixel buffer was never allocated


def test_ceiling_env_override_and_jpeg_draft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    from attalos_desktop.core.bundle import load_bundle
    from attalos_desktop.core.imageio import ImageError, decode_for_model
    from core_helpers import bundle_path

    pre = load_bundle(bundle_path(), verify_checksums=False).preprocessing
    im = Image.new("RGB", (2000, 1500), (200, 30, 30))
    im.save(tmp_path / "a.jpg", quality=80)
    im.save(tmp_path / "a.png")
    monkeypatch.setenv("ATTALOS_MAX_DECODE_MB", "2")  # 2000x1500 RGB needs ~8.6 MB in full
    with pytest.raises(ImageError, match="memory ceiling"):
        decode_for_model(tmp_path / "a.png", pre)
    assert decode_for_model(tmp_path / "a.jpg", pre).width == 2000  # JPEG decodes reduced (draft): fits
    monkeypatch.setenv("ATTALOS_MAX_DECODE_MB", "64")
    assert decode_for_model(tmp_path / "a.png", pre).width == 2000
