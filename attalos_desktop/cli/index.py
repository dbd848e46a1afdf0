"""attalos-index: add folders to the library and bring catalog and search index up to date."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from .common import EXIT_FATAL, EXIT_OK, ProgressBar, add_library_args, print_json, run_main, show_path

PROG = "attalos-index"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Index photos: PATHs become library roots; with none, every root is rescanned. "
        "Unchanged files are skipped, moved files keep their data, deleted files leave the library.",
    )
    add_library_args(p)
    p.add_argument(
        "--workers", type=int, metavar="N", help="decoding threads (default: one more than the cores, at most 8)"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="check the catalog (SQLite integrity_check) and the search index, index nothing; "
        "exit status 1 when problems remain",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="with --check: fix what was found (rebuild the index, restore the catalog from its "
        "newest good backup plus the rows still readable, drop unusable vectors)",
    )
    p.add_argument(
        "--thumbnails",
        action="store_true",
        help="also make the window's grid thumbnails while decoding the photos (no second decode), so the "
        "window shows the library at once",
    )
    p.add_argument(
        "--thumbnail-size",
        type=int,
        default=160,
        metavar="PX",
        help="with --thumbnails: their size (default 160, the window's default)",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="folders to add and index")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repair and not args.check:
        parser.error("--repair goes with --check")
    if args.check and args.paths:
        parser.error("--check takes no PATHs")
    if not 16 <= args.thumbnail_size <= 1024:
        parser.error("--thumbnail-size must be between 16 and 1024 pixels")
    cancel = threading.Event()

    def body() -> int:
        from ..core.library import Library
        from ..core.pipeline import ThumbnailTarget
        from ..core.thumbnails import ThumbnailCache, library_cache_root

        if args.check:
            return _check(args)
        with Library.open(args.library, args.model) as lib:
            thumbnails = None
            if args.thumbnails:
                thumbnails = ThumbnailTarget(ThumbnailCache(library_cache_root(args.library)), args.thumbnail_size)
            if not args.paths and not lib.roots():
                print(f"{PROG}: the library has no folders yet; give one or more PATHs", file=sys.stderr)
            bar = ProgressBar()
            try:
                report = lib.index(
                    args.paths or None, workers=args.workers, progress=bar, cancel=cancel, thumbnails=thumbnails
                )
            finally:
                bar.close()
        if args.json:
            print_json(report.to_json())
        else:
            print(
                f"{report.new} new, {report.changed} changed, {report.unchanged} unchanged, {report.moved} moved, "
                f"{report.removed} removed, {report.failed} failed in {report.seconds:.1f} s "
                f"(model {report.model}, {report.provider})"
            )
            for f in report.failures:
                print(f"  failed: {show_path(f.path)}: {f.reason}")
        return EXIT_OK

    return run_main(PROG, body, cancel=cancel)


def _check(args: Any) -> int:
    """--check [--repair]: what was checked, found and fixed; 0 when the library is sound (now)."""
    from ..core.library import Library, LibraryLocked
    from ..core.lock import LibraryLock, LockHeld
    from ..core.repair import check_library

    with Library.open(args.library, args.model) as lib:
        lock = LibraryLock(lib.paths.lock)
        if args.repair:
            try:
                lock.acquire()
            except LockHeld as exc:
                raise LibraryLocked(str(exc)) from None
        try:
            lib._writer = args.repair
            result = check_library(lib, repair=args.repair)
        finally:
            lib._writer = False
            lock.release()
    if args.json:
        print_json(result)
    else:
        for line in result["checked"]:
            print(f"checked: {line}")
        for line in result["problems"]:
            print(f"problem: {line}")
        for line in result["fixed"]:
            print(f"fixed: {line}")
        if result["ok"]:
            print("the library is sound" if not result["problems"] else "the library is sound again")
        else:
            print(f"{len(result['remaining'])} problems remain (run attalos-index --check --repair)")
    return EXIT_OK if result["ok"] else EXIT_FATAL


if __name__ == "__main__":
    sys.exit(main())
