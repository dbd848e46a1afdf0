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
                answer = None
                if args.similar:
                    hits = lib.similar(path=args.similar, limit=args.limit)
                else:
                    answer = lib.find(" ".join(args.query), limit=args.limit)
                    hits = answer.hits
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
            # The first line says what was understood: the dates and places read as filters, the words
            # ranked, and which reading a word that is both a place and a thing was given.
            q = answer.understood if answer is not None else None
            notes = f" ({'; '.join(q.notes)})" if q is not None and q.notes else ""
            if answer is not None and answer.why_empty:
                print(f"{answer.why_empty[0].upper()}{answer.why_empty[1:]}{notes}.")
                return EXIT_OK
            if q is not None and q.filtered and not q.visual_text:  # a date or place alone: newest first
                print(f"Newest {len(hits)} of {photos(answer.matching or 0)} {q.where_and_when()}{notes}:")
                for rank, h in enumerate(hits, 1):
                    print(f"{rank:3d}. {short_path(h.path)}")
                return EXIT_OK
            if args.similar:
                what = f"{photos(library_size(lib))} like {short_path(args.similar)}"
            elif q is not None and q.filtered:
                what = f'{photos(answer.matching or 0)} {q.where_and_when()} for "{q.visual_text}"'
            else:
                what = f'{photos(library_size(lib))} for "{q.visual_text if q is not None else " ".join(args.query)}"'
            about = f"model {lib.bundle.name}" + (f"; {'; '.join(q.notes)}" if q is not None and q.notes else "")
            print(f"Best {len(hits)} of {what} ({about}), with the relevance the app shows:")
            for rank, h in enumerate(hits, 1):
                print(f"{rank:3d}. {relevance(h.score)}  {short_path(h.path)}")
        return EXIT_OK

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
