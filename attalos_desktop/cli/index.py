"""attalos-index: add folders to the library and bring catalog and search index up to date."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK, ProgressBar, add_library_args, print_json, run_main, show_path

PROG = "attalos-index"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Index photos: PATHs become library roots; with none, every root is rescanned. "
        "Unchanged files are skipped, moved files keep their data, deleted files leave the library.",
    )
    add_library_args(p)
    p.add_argument("--workers", type=int, metavar="N", help="decoding threads (default: number of cores)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="folders to add and index")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        from ..core.library import Library

        with Library.open(args.library, args.model) as lib:
            if not args.paths and not lib.roots():
                print(f"{PROG}: the library has no folders yet; give one or more PATHs", file=sys.stderr)
            bar = ProgressBar()
            try:
                report = lib.index(args.paths or None, workers=args.workers, progress=bar)
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

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
