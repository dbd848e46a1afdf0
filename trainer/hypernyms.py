"""General words from WordNet: a photo labelled "golden retriever" should also teach "dog".

Single-label corpora (Tiny ImageNet names its files by WordNet id, ``images/n02099601_12.jpg``)
only ever say the most specific word, so the model never learns the general ones people search
for. This module reads Princeton WordNet 3.0's noun files (Debian's ``wordnet-base``) and adds to
each photo the words of its synset's hypernyms (``@``) and instance hypernyms (``@i``) a few
levels up, skipping the abstract top of the tree ("entity", "object", "whole") by depth.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from attalos_desktop.core.tags import normalize_tag

from .data import Record
from .errors import TrainError

DEFAULT_DIRS = ("/usr/share/wordnet", "/usr/share/wordnet/dict")
_WNID = re.compile(r"(?<![A-Za-z0-9])n(\d{8})(?![0-9])")
_HYPERNYM = ("@", "@i")


class WordNet:
    """WordNet's noun hierarchy in memory: lemmas and hypernym links per synset offset."""

    def __init__(self, folder: Path, lines: dict[int, str], index: dict[str, str]):
        self._folder = folder
        self._lines = lines  # offset -> its data.noun line, parsed on first use (keeps loading fast)
        self._index = index  # lemma -> rest of its index.noun line
        self._parsed: dict[int, tuple[list[str], list[int]]] = {}
        self._depth: dict[int, int] = {}

    @classmethod
    def load(cls, path: str | Path | None = None) -> "WordNet":
        """Read data.noun and index.noun from ``path``; None: $WNSEARCHDIR, then the Debian folders.

        Missing files raise TrainError with a one-line reason, because a user asking for general
        words should learn how to get WordNet rather than see a traceback.
        """
        if path is not None:
            candidates = [Path(path)]
        else:
            env = os.environ.get("WNSEARCHDIR")
            candidates = ([Path(env)] if env else []) + [Path(d) for d in DEFAULT_DIRS]
        folder = next((d for d in candidates if (d / "data.noun").is_file() and (d / "index.noun").is_file()), None)
        if folder is None:
            where = ", ".join(str(d) for d in candidates)
            raise TrainError(
                f"WordNet noun files (data.noun, index.noun) not found in {where}; "
                "install Debian's wordnet-base (apt-get install wordnet-base) or pass the WordNet folder"
            )
        try:
            data = (folder / "data.noun").read_text(encoding="utf-8", errors="replace")
            index_text = (folder / "index.noun").read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise TrainError(f"cannot read WordNet in {folder}: {exc}") from exc
        lines: dict[int, str] = {}
        for line in data.splitlines():
            if line and line[0] != " ":  # lines starting with spaces are the licence header
                head = line[: line.find(" ")]
                if not head.isdigit():
                    raise TrainError(f"{folder / 'data.noun'}: malformed line {line[:40]!r}")
                lines[int(head)] = line
        index = dict(line.split(" ", 1) for line in index_text.splitlines() if line and line[0] != " " and " " in line)
        return cls(folder, lines, {k.lower(): v for k, v in index.items()})

    def _synset(self, offset: int) -> tuple[list[str], list[int]]:
        """(lemmas, hypernym offsets) of one synset, parsed from its line once."""
        if offset not in self._parsed:
            line = self._lines[offset]
            f = line.split(" | ", 1)[0].split()
            try:
                n = int(f[3], 16)
                words = [normalize_tag(w) for w in f[4 : 4 + 2 * n : 2]]
                p = 4 + 2 * n
                ptrs = f[p + 1 : p + 1 + 4 * int(f[p])]
                ups = [
                    int(ptrs[i + 1])
                    for i in range(0, len(ptrs) - 3, 4)
                    if ptrs[i] in _HYPERNYM and ptrs[i + 2] == "n" and int(ptrs[i + 1]) in self._lines
                ]
            except (IndexError, ValueError) as exc:
                raise TrainError(f"{self._folder / 'data.noun'}: malformed line {line[:40]!r}") from exc
            self._parsed[offset] = (words, ups)
        return self._parsed[offset]

    def synset_of_wnid(self, wnid: str) -> int | None:
        """``"n02099601"`` -> 2099601 when that noun synset exists (ImageNet ids are noun offsets)."""
        m = re.fullmatch(r"n(\d{8})", wnid.strip())
        offset = int(m.group(1)) if m else None
        return offset if offset in self._lines else None

    def noun_synsets(self, word: str) -> list[int]:
        """Noun synsets of a word in sense order (most frequent first); [] when WordNet lacks it."""
        rest = self._index.get("_".join(word.strip().lower().split()))
        if rest is None:
            return []
        f = rest.split()  # pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
        cnt = int(f[1])
        return [int(x) for x in f[len(f) - cnt :]] if cnt else []

    def lemma(self, offset: int) -> str:
        """The synset's first lemma as a tag ("dog"): the word people use most for it."""
        return self._synset(offset)[0][0]

    def lemmas(self, offset: int) -> list[str]:
        """All lemmas of the synset, normalised like tags."""
        return list(self._synset(offset)[0])

    def ancestors(self, offset: int, up: int) -> list[tuple[int, int]]:
        """(synset, levels up) of hypernyms within ``up`` levels, breadth first so nearer words come first."""
        seen = {offset}
        out: list[tuple[int, int]] = []
        queue = deque([(offset, 0)])
        while queue:
            s, lvl = queue.popleft()
            if lvl >= up:
                continue
            for h in self._synset(s)[1]:
                if h not in seen:
                    seen.add(h)
                    out.append((h, lvl + 1))
                    queue.append((h, lvl + 1))
        return out

    def root_depth(self, offset: int) -> int:
        """Fewest hypernym steps to a root (entity = 0): a measure of how abstract a synset is."""
        if offset in self._depth:
            return self._depth[offset]
        self._depth[offset] = 0  # guards against a cycle in a damaged file
        ups = self._synset(offset)[1]
        depth = 1 + min(self.root_depth(h) for h in ups) if ups else 0
        self._depth[offset] = depth
        return depth


def wnid_of(file: str) -> str | None:
    """The WordNet id in a photo's path (``images/n01443537_164.jpg`` -> ``n01443537``), or None.

    The file name wins; else the nearest folder (ImageNet's ``train/n01443537/images/x.JPEG``).
    """
    found = _WNID.findall(file)
    return f"n{found[-1]}" if found else None


def general_words(wn: WordNet, offset: int, up: int, min_root_depth: int, keep: Callable[[str], bool]) -> list[str]:
    """First lemmas of the ancestors within ``up`` levels that are concrete enough and kept; nearest first."""
    own = set(wn.lemmas(offset))
    out: list[str] = []
    for s, _ in wn.ancestors(offset, up):
        if wn.root_depth(s) < min_root_depth:
            continue
        w = wn.lemma(s)
        if w and w not in own and w not in out and keep(w):
            out.append(w)
    return out


@dataclass
class Expansion:
    """What was added, so the manifest and model card can say which general words came from WordNet."""

    added: dict[str, list[str]] = field(default_factory=dict)  # leaf tag -> general words added to its photos
    photos: int = 0  # photos that gained at least one word


def expand_records(
    records: Sequence[Record],
    wn: WordNet,
    *,
    up: int,
    min_root_depth: int,
    keep: Callable[[str], bool],
    senses: str = "wnid",
) -> tuple[list[Record], Expansion]:
    """Copies of ``records`` with general words appended after each photo's own tags.

    ``senses="wnid"``: the synset named by the file's WordNet id (exact sense; files without one
    are unchanged; the words are credited to the photo's first tag). ``senses="first"``: each tag's
    most frequent noun sense. Results are cached per synset and tag, so 50k photos take well under a second.
    """
    if senses not in ("wnid", "first"):
        raise TrainError(f"unknown senses mode {senses!r} (expected 'wnid' or 'first')")
    by_synset: dict[int, list[str]] = {}
    by_key: dict[str, list[str]] = {}

    def words_of(offset: int | None) -> list[str]:
        if offset is None:
            return []
        if offset not in by_synset:
            by_synset[offset] = general_words(wn, offset, up, min_root_depth, keep)
        return by_synset[offset]

    def words_for(key: str) -> list[str]:  # key: a file's wnid or a tag
        if key not in by_key:
            if senses == "wnid":
                by_key[key] = words_of(wn.synset_of_wnid(key))
            else:
                found = wn.noun_synsets(key)
                by_key[key] = words_of(found[0] if found else None)
        return by_key[key]

    exp = Expansion()
    credited: dict[str, set[str]] = {}
    out: list[Record] = []
    for r in records:
        tags = list(r.tags)
        have = set(tags)
        if senses == "wnid":
            wnid = wnid_of(r.file)
            sources = [(tags[0] if tags else wnid, words_for(wnid))] if wnid else []
        else:
            sources = [(t, words_for(t)) for t in r.tags]
        for leaf, words in sources:
            new = words if have.isdisjoint(words) else [w for w in dict.fromkeys(words) if w not in have]
            if not new:
                continue
            tags.extend(new)
            have.update(new)
            seen = credited.setdefault(leaf, set())
            if not seen.issuperset(new):
                exp.added.setdefault(leaf, []).extend(w for w in new if w not in seen)
                seen.update(new)
        exp.photos += len(tags) > len(r.tags)
        out.append(Record(file=r.file, tags=tags, split=r.split, line=r.line))
    return out, exp
