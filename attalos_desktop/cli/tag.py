"""attalos-tag: suggested tags for photo files, in the library or not."""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_OK, add_library_args, print_json, run_main, show_path

PROG = "attalos-tag"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Suggest tags for photos, best first, with scores (0..1).")
    add_library_args(p)
    p.add_argument("--top", type=int, default=10, metavar="K", help="tags per photo (default 10)")
    p.add_argument("--min-score", type=float, default=0.0, metavar="S", help="drop tags scoring below S")
    p.add_argument("photos", nargs="+", metavar="PHOTO")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.top < 1:
        build_parser().error("--top must be at least 1")

    def body() -> int:
        from ..core.library import ImageError, Library

        out = []
        with Library.open(args.library, args.model) as lib:
            for photo in args.photos:
                path = os.path.abspath(photo)
                try:
                    tags = lib.tag_file(path, top=args.top, min_score=args.min_score)
                    out.append({"path": path, "tags": [{"tag": t.tag, "score": round(t.score, 4)} for t in tags]})
                except ImageError as exc:
                    out.append({"path": path, "error": exc.reason})
        if args.json:
            print_json(out)
        else:
            for item in out:
                print(show_path(item["path"]))
                if "error" in item:
                    print(f"  error: {item['error']}")
                for t in item.get("tags", []):
                    print(f"  {t['score']:.3f}  {t['tag']}")
        return EXIT_OK

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
