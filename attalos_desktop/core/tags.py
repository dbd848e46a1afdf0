"""Tag normalisation shared by the trainer, the catalog and search.

Every place that compares tags must agree on one spelling, or a user's "Beach" would never
meet the model's "beach": this module is that single rule.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Flickr-style joined tags ("ana+capri", "new_york") become words separated by spaces.
_JOINERS = re.compile(r"[+_]+")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on onto or over the this to "
    "under with without near photo photos picture pictures image images some".split()
)


def normalize_tag(raw: str) -> str:
    """Return the canonical spelling of a tag: NFKC, lower case, joiners to spaces, trimmed.

    An empty string means the tag carries no word and should be dropped by the caller.
    """
    text = unicodedata.normalize("NFKC", raw).casefold()
    text = _JOINERS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def query_words(text: str) -> list[str]:
    """Split free text into normalised words, keeping inner apostrophes and hyphens."""
    return _WORD.findall(normalize_tag(text))
