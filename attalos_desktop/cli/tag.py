"""attalos-tag: suggested tags for photo files, in the library or not; --add/--remove edit user tags."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import EXIT_OK, add_library_args, print_json, run_main
from .display import percent, photos, short_path

PROG = "attalos-tag"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Suggest tags for photos, best first, with scores (0..1): the model's words and your own "
        "(words you put on similar photos). With --add/--remove, record your tags on library photos.",
    )
    add_library_args(p)
    p.add_argument("--top", type=int, default=10, metavar="K", help="tags per photo (default 10)")
    p.add_argument("--min-score", type=float, default=0.0, metavar="S", help="drop tags scoring below S")
    p.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="TAG",
        help="add TAG to the photos as your tag (repeatable; photos must be in the library; also "
        "written to XMP sidecars unless the library's sidecar setting is off)",
    )
    p.add_argument(
        "--remove", action="append", default=[], metavar="TAG", help="remove your TAG from the photos (repeatable)"
    )
    p.add_argument(
        "--sidecars",
        choices=("on", "off"),
        help="turn writing tags to XMP sidecars on or off for this library (remembered; the app's "
        "Settings show the same switch; default on)",
    )
    p.add_argument("photos", nargs="*", metavar="PHOTO")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.top < 1:
        build_parser().error("--top must be at least 1")
    if not args.photos and not args.sidecars:
        build_parser().error("give at least one PHOTO")

    def body() -> int:
        from ..core.library import ImageError, Library

        out = []
        with Library.open(args.library, args.model) as lib:
            if args.sidecars:
                lib.set_sidecars_enabled(args.sidecars == "on")
                if not args.photos:
                    return EXIT_OK
            if args.add or args.remove:
                return _edit(lib, args)
            for photo in args.photos:
                path = os.path.abspath(photo)
                try:
                    tags = lib.tag_file(path, top=args.top, min_score=args.min_score)
                    item: dict[str, Any] = {"path": path, "tags": tags}
                except ImageError as exc:
                    item = {"path": path, "error": exc.reason}
                # The plain listing of a library photo also shows the words it already carries: typed in
                # the app, added with --add, or taken in from its sidecar, embedded XMP or IPTC keywords
                # (search finds them all). The JSON keeps its shape: {"path", "tags"}.
                row = lib.photo_by_path(path) if not args.json else None
                mine = lib.user_tags(row.id) if row is not None else []
                if mine:
                    item["user_tags"] = mine
                out.append(item)
            _print(out, args.json, lib.bundle.name)
        return EXIT_OK

    return run_main(PROG, body)


def _edit(lib: Any, args: argparse.Namespace) -> int:
    """--add/--remove: record the user's tags (all photos checked first), then show each photo's state."""
    rows, warnings = lib.edit_tags(args.photos, add=args.add, remove=args.remove)
    for w in warnings:
        print(f"{PROG}: warning: {' '.join(w.split())}", file=sys.stderr)
    out = []
    for row in rows:
        tags = lib.suggest_tags(row.id, top=args.top, min_score=args.min_score)
        out.append({"path": row.path, "tags": tags, "user_tags": lib.user_tags(row.id)})
    _print(out, args.json, lib.bundle.name)
    return EXIT_OK


def _tag_json(t: Any) -> dict[str, Any]:
    return {"tag": t.tag, "score": round(t.score, 4)}


def _print(out: list[dict[str, Any]], as_json: bool, model: str) -> None:
    """JSON: ``[{"path", "tags": [{"tag", "score"}] | "error", ("user_tags")}]``; plain: a summary line,
    then each photo (relative to the current folder when shorter) and its tags with percentages."""
    if as_json:
        print_json([{**item, "tags": [_tag_json(t) for t in item["tags"]]} if "tags" in item else item for item in out])
        return
    print(f"Suggested tags for {photos(len(out))} (model {model}), best first:")
    for item in out:
        print(short_path(item["path"]))
        if "error" in item:
            print(f"  error: {item['error']}")
        if "user_tags" in item:
            print("  your tags: " + (", ".join(item["user_tags"]) or "(none)"))
        if "tags" in item and not item["tags"]:
            print("  (no tag scores above --min-score)")
        for t in item.get("tags", []):
            mine = "  (yours)" if getattr(t, "source", "model") == "personal" else ""
            print(f"  {percent(t.score)}  {t.tag}{mine}")


if __name__ == "__main__":
    sys.exit(main())
