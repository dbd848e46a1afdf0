"""attalos-search: find photos by free text (any words) or by similarity to a photo."""

from __future__ import annotations

import argparse
import math
import sys

from .common import EXIT_OK, ProgressBar, add_library_args, fail, print_json, run_main
from .display import library_size, photos, relevance, short_path

PROG = "attalos-search"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Search the library: free text (words the model never saw work too) or --similar PHOTO.",
    )
    add_library_args(p)
    p.add_argument("--limit", type=int, default=20, metavar="N", help="results (default 20)")
    p.add_argument("--similar", metavar="PHOTO", help="photos that look like PHOTO (in the library or not)")
    p.add_argument("query", nargs="*", metavar="QUERY")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.query) == bool(args.similar):
        parser.error("give either QUERY words or --similar PHOTO")
    if args.limit < 1:
        parser.error("--limit must be at least 1")

    def body() -> int:
        from ..core.library import ImageError, Library, QueryError

        with Library.open(args.library, args.model) as lib:
            lib.progress = ProgressBar()  # shown only while a damaged search index is rebuilt
            try:
                if args.similar:
                    hits = lib.similar(path=args.similar, limit=args.limit)
                else:
                    hits = lib.search(" ".join(args.query), limit=args.limit)
            except QueryError as exc:
                fail(PROG, str(exc))
            except ImageError as exc:
                fail(PROG, f"{args.similar}: {exc.reason}")
            finally:
                lib.progress.close()
            hits = [h for h in hits if math.isfinite(h.score)]
            if args.json:
                print_json([{"path": h.path, "score": round(h.score, 4)} for h in hits])
                return EXIT_OK
            what = f"like {short_path(args.similar)}" if args.similar else f'for "{" ".join(args.query)}"'
            print(
                f"Best {len(hits)} of {photos(library_size(lib))} {what} (model {lib.bundle.name}), "
                "with the relevance the app shows:"
            )
            for rank, h in enumerate(hits, 1):
                print(f"{rank:3d}. {relevance(h.score)}  {short_path(h.path)}")
        return EXIT_OK

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
