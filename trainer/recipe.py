"""Recipes: a model's whole making in one short, declarative TOML file (``trainer/recipes/``).

    attalos-desktop-train --recipe trainer/recipes/attalos-photo.toml --data-root ../shared/data --out B

``[train]`` sets the defaults of any ``attalos-desktop-train`` flag (flags given on the command line
still win), each ``[[data]]`` table is a corpus (``corpora.CorpusSpec``: path under ``--data-root``,
weight, scope, held-out photos, WordNet general words...), and ``[export]`` names the export stages
(``label_transfer = "corel5k"``). The recipe's text is kept in the bundle's manifest, so a bundle
says exactly how it was made.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Sequence

from .corpora import CorpusSpec
from .errors import TrainError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_SPEC_FIELDS = {f.name for f in fields(CorpusSpec)}
_EXPORT_KEYS = {
    "label_transfer": "label_transfer",
    "test_time_flip": "test_time_flip",
    "preview_min_side": "preview_min_side",
    "description": "description",
    "name": "name",
}


def load_recipe(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TrainError(f"--recipe {p}: no such file") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrainError(f"--recipe {p}: not a readable TOML file ({exc})".splitlines()[0]) from exc


def apply_recipe(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse ``argv`` again with the recipe's settings as defaults; attach its corpora and its text."""
    recipe = load_recipe(args.recipe)
    unknown = set(recipe) - {"train", "data", "export", "search_words", "name", "description"}
    if unknown:
        raise TrainError(f"--recipe {args.recipe}: unknown section(s) {', '.join(sorted(unknown))}")
    dests = {a.dest for a in parser._actions}
    train = dict(recipe.get("train", {}))
    bad = sorted(k for k in train if k not in dests or k in ("data", "recipe", "out"))
    if bad:
        raise TrainError(
            f"--recipe {args.recipe}: [train] has no setting {', '.join(bad)} "
            "(settings are attalos-desktop-train's flags, with _ for -)"
        )
    export = dict(recipe.get("export", {}))
    bad = sorted(set(export) - set(_EXPORT_KEYS))
    if bad:
        raise TrainError(f"--recipe {args.recipe}: [export] has no setting {', '.join(bad)}")
    defaults = dict(train)
    defaults.update({_EXPORT_KEYS[k]: v for k, v in export.items()})
    for key in ("name", "description"):
        if key in recipe:
            defaults[key] = recipe[key]
    parser.set_defaults(**defaults)
    args = parser.parse_args(argv)
    root = Path(args.data_root) if args.data_root else None
    if args.data:
        raise TrainError("--recipe names its corpora in [[data]]: give --data-root DIR instead of --data")
    if root is None:
        raise TrainError("--recipe needs --data-root DIR (the folder its [[data]] paths are under)")
    specs = []
    for table in recipe.get("data", []):
        bad = sorted(set(table) - _SPEC_FIELDS)
        if bad or "path" not in table:
            raise TrainError(
                f"--recipe {args.recipe}: a [[data]] table needs path and knows only "
                f"{', '.join(sorted(_SPEC_FIELDS))} (got {', '.join(bad) or 'no path'})"
            )
        spec = CorpusSpec(**{**table, "path": root / table["path"]})
        if not spec.path.is_dir():
            raise TrainError(f"--recipe {args.recipe}: corpus {spec.path} not found under --data-root")
        specs.append(spec)
    if not specs:
        raise TrainError(f"--recipe {args.recipe}: no [[data]] corpus")
    args.corpora = specs
    args.search_words = (args.search_words or []) + [str(root / w) for w in recipe.get("search_words", [])]
    args.recipe_text = Path(args.recipe).read_text(encoding="utf-8")
    return args
