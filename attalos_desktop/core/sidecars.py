"""XMP sidecars: the user's tags written next to the photo, and sidecar edits of other programs read back.

The original photo file is never opened for writing; tags go to XMP sidecar files beside it.

Which files are a photo's sidecars
    Photo tools disagree on the name: darktable and digiKam use ``IMG_1.jpg.xmp``, Lightroom, Capture
    One and most cameras' workflows ``IMG_1.xmp``. We write both, so every tool finds the tags, with one
    exception: ``IMG_1.xmp`` is not a photo's sidecar when another photo file in the same folder has the
    same base name (a RAW+JPEG pair ``IMG_1.cr2`` + ``IMG_1.jpg``): such a file is ambiguous, and writing
    or reading it would mix two photos' tags, so it is neither written nor read; each photo of the pair
    has only its ``IMG_1.<ext>.xmp``. A sidecar that exists already (in any case: ``IMG_1.JPG.XMP``) is
    the one used and merged into; a missing one is created. When a photo has two sidecars with
    different keywords, the newest (modification time) is the one read; our writes keep them in step.

What is written
    Three keyword lists, merged with what the sidecar holds: ``dc:subject`` (rdf:Bag, the plain
    keywords every tool reads), ``lr:hierarchicalSubject`` (Bag; Lightroom's ``places|italy``
    paths: existing paths are kept, a path whose leaf is removed goes, an added tag is a one-level
    path) and ``digiKam:TagsList`` (Seq; digiKam's ``places/italy`` paths, the same rules). Every
    other element, attribute, comment and processing instruction of an existing sidecar is kept.
    Tags are compared after normalisation (``Beach`` and ``beach`` are one tag).

How
    A temporary file in the same folder, fsync, ``os.replace`` (atomic: readers see the old or the new
    sidecar, never half of one), keeping the old file's permission bits. An existing sidecar that is
    not valid XMP is never overwritten. Every failure is a :class:`SidecarError` whose message is one
    line; callers store the tags in the catalog first, so nothing is lost.

Reading back (rescans)
    :func:`sidecars_by_photo` maps the sidecar files a folder walk found to their photos without any
    extra system call, so a rescan compares modification times only and opens a sidecar only when it
    changed. :func:`read_keywords` is strict (a sidecar that does not parse raises), because a rescan
    removes the keywords another program took out, and a truncated file must not look like "all
    keywords removed".
"""

from __future__ import annotations

import os
import stat
import xml.dom.minidom as minidom
import xml.etree.ElementTree as ET
from typing import Collection, Iterable, Mapping
from xml.parsers.expat import ExpatError

from .fsutil import atomic_write
from .imageio import PHOTO_EXTS
from .metadata import clean_keywords, keywords_from_xmp
from .tags import normalize_tag

__all__ = [
    "SidecarError",
    "NS",
    "sidecar_paths",
    "photo_sidecars",
    "newest_sidecar",
    "has_base_name_sibling",
    "read_keywords",
    "keywords_from_sidecar",
    "merge_xmp",
    "write_keywords",
    "sidecars_by_photo",
]

X_NS = "adobe:ns:meta/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC_NS = "http://purl.org/dc/elements/1.1/"
LR_NS = "http://ns.adobe.com/lightroom/1.0/"
DIGIKAM_NS = "http://www.digikam.org/ns/1.0/"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"
NS = {"x": X_NS, "rdf": RDF_NS, "dc": DC_NS, "lr": LR_NS, "digiKam": DIGIKAM_NS}

# (namespace, property, container, hierarchy separator or None)
_LISTS = (
    (DC_NS, "subject", "Bag", None),
    (LR_NS, "hierarchicalSubject", "Bag", "|"),
    (DIGIKAM_NS, "TagsList", "Seq", "/"),
)
_PREFIX = {DC_NS: "dc", LR_NS: "lr", DIGIKAM_NS: "digiKam", RDF_NS: "rdf"}
MAX_SIDECAR_BYTES = 16 << 20

_EMPTY_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Attalos Desktop">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""\n'
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
    '    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\n'
    '    xmlns:digiKam="http://www.digikam.org/ns/1.0/">\n'
    "  </rdf:Description>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>'
)

_umask = os.umask(0o022)
os.umask(_umask)
NEW_FILE_MODE = 0o666 & ~_umask


class SidecarError(RuntimeError):
    """A sidecar could not be read or written; ``str()`` is one line that says which file and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))  # odd file names stay one line


# -- which files ---------------------------------------------------------------------------------------
def _split(photo_path: str) -> tuple[str, str]:
    base, ext = os.path.splitext(photo_path)
    return base, ext


def has_base_name_sibling(photo_path: str) -> bool:
    """Another photo file in the folder shares this one's base name (``IMG_1.cr2`` + ``IMG_1.jpg``)."""
    base, own = _split(photo_path)
    try:
        me = os.stat(photo_path)
    except OSError:
        me = None
    for ext in PHOTO_EXTS:
        for e in {ext, ext.upper()}:
            if e == own:
                continue
            try:
                st = os.stat(base + e)
            except OSError:
                continue
            if me is None or (st.st_dev, st.st_ino) != (me.st_dev, me.st_ino):  # case-insensitive file systems
                return True
    return False


def sidecar_paths(photo_path: str, paired: bool | None = None) -> list[str]:
    """The names a sidecar of this photo may have, preferred first (``paired``: see the module doc)."""
    out = [photo_path + ".xmp", photo_path + ".XMP"]
    if paired is None:
        paired = has_base_name_sibling(photo_path)
    if not paired:
        base, _ = _split(photo_path)
        out += [base + ".xmp", base + ".XMP"]
    return out


def photo_sidecars(photo_path: str, paired: bool | None = None) -> list[tuple[str, int]]:
    """The photo's existing sidecars as (path, mtime_ns), one per name (either case), preferred first."""
    out: list[tuple[str, int]] = []
    found_ext = found_base = False
    if paired is None:  # the sibling probe only when a base-name sidecar is there at all
        base, _ = _split(photo_path)
        paired = not (os.path.exists(base + ".xmp") or os.path.exists(base + ".XMP")) or has_base_name_sibling(
            photo_path
        )
    cands = sidecar_paths(photo_path, paired)
    for i, cand in enumerate(cands):
        if found_ext if i < 2 else found_base:
            continue
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        out.append((cand, st.st_mtime_ns))
        if i < 2:
            found_ext = True
        else:
            found_base = True
    return out


def newest_sidecar(photo_path: str, paired: bool | None = None) -> tuple[str, int] | None:
    """The sidecar that speaks for the photo: the newest; on a tie ``IMG.ext.xmp``."""
    best: tuple[str, int] | None = None
    for cand in photo_sidecars(photo_path, paired):
        if best is None or cand[1] > best[1]:
            best = cand
    return best


def sidecars_by_photo(photo_paths: Collection[str], sidecars: Mapping[str, int]) -> dict[str, tuple[str, int]]:
    """The newest own sidecar (path, mtime_ns) of each photo that has one, from a folder walk alone.

    ``photo_paths``: every photo file the walk found (a set); ``sidecars``: every ``*.xmp`` file it
    found with its mtime. No file is opened or stat'ed.
    """
    out: dict[str, tuple[str, int]] = {}
    if not sidecars:
        return out
    bases: dict[str, list[str]] | None = None
    sep = os.sep

    def offer(photo: str, cand: tuple[str, int], ext_kind: bool) -> None:
        cur = out.get(photo)
        if cur is None or cand[1] > cur[1] or (cand[1] == cur[1] and ext_kind and not _is_ext_sidecar(photo, cur[0])):
            out[photo] = cand

    for sc, mtime in sidecars.items():
        stem = sc[:-4]
        if stem in photo_paths:
            if stem not in out:  # the common case: IMG.ext.xmp, first seen
                out[stem] = (sc, mtime)
            else:
                offer(stem, (sc, mtime), True)
            continue
        if bases is None:
            bases = {}
            for p in photo_paths:
                dot = p.rfind(".")
                if dot > p.rfind(sep):
                    bases.setdefault(p[:dot], []).append(p)
        owners = bases.get(stem)
        if owners is not None and len(owners) == 1:
            offer(owners[0], (sc, mtime), False)
    return out


def _is_ext_sidecar(photo: str, sidecar: str) -> bool:
    return sidecar[:-4] == photo


# -- reading -------------------------------------------------------------------------------------------
def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise SidecarError(f"cannot read sidecar {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"sidecar {path} is larger than {MAX_SIDECAR_BYTES >> 20} MB; left untouched")
    return data


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_keywords(sidecar_path: str) -> list[str]:
    """The normalised ``dc:subject`` keywords of a sidecar; SidecarError when it is not valid XMP."""
    data = _read_bytes(sidecar_path).rstrip(b"\x00 \t\r\n")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SidecarError(f"sidecar {sidecar_path} is not valid XMP ({_one_line(exc)})") from None
    if root.tag != f"{{{RDF_NS}}}RDF" and root.find(f".//{{{RDF_NS}}}RDF") is None:
        raise SidecarError(f"sidecar {sidecar_path} is not an XMP packet (no rdf:RDF)")
    raw: list[str] = []
    for subj in root.iter(f"{{{DC_NS}}}subject"):
        raw.extend("".join(li.itertext()) for li in subj.iter(f"{{{RDF_NS}}}li"))
    for desc in root.iter(f"{{{RDF_NS}}}Description"):  # the attribute form some writers use
        attr = desc.get(f"{{{DC_NS}}}subject")
        if attr:
            raw.extend(attr.split(","))
    return clean_keywords(raw)


def keywords_from_sidecar(photo_path: str) -> list[str]:
    """Raw keywords of the photo's newest sidecar, tolerant of damaged files (importing, not syncing)."""
    sc = newest_sidecar(photo_path)
    if sc is None:
        return []
    try:
        with open(sc[0], "rb") as fh:
            return keywords_from_xmp(fh.read(4 << 20))
    except OSError:
        return []


# -- merging -------------------------------------------------------------------------------------------
def _leaf(entry: str, sep: str | None) -> str:
    if sep is not None:
        entry = entry.split(sep)[-1]
    if sep != "|":
        entry = entry.split("|")[-1]  # clean_keywords' rule for dc:subject too
    return normalize_tag(entry)


def _text(node: minidom.Node) -> str:
    return "".join(c.data for c in node.childNodes if c.nodeType in (c.TEXT_NODE, c.CDATA_SECTION_NODE))


def _elements(node: minidom.Node, ns: str, local: str) -> list[minidom.Element]:
    return [
        c for c in node.childNodes if c.nodeType == c.ELEMENT_NODE and c.namespaceURI == ns and c.localName == local
    ]


def _in_scope(node: minidom.Node | None) -> dict[str, str]:
    """prefix -> namespace declared on node or its ancestors (nearest wins)."""
    out: dict[str, str] = {}
    while isinstance(node, minidom.Element):  # the only minidom class of nodeType ELEMENT_NODE
        for name, value in node.attributes.items():
            if name.startswith("xmlns:"):
                out.setdefault(name[6:], value)
        node = node.parentNode
    return out


def _prefix(desc: minidom.Element, ns: str) -> str:
    scope = _in_scope(desc)
    for p, uri in scope.items():
        if uri == ns:
            return p
    want = _PREFIX.get(ns, "ns")
    p, i = want, 1
    while p in scope:
        p, i = f"{want}{i}", i + 1
    desc.setAttributeNS(XMLNS_NS, f"xmlns:{p}", ns)
    return p


def _indent_of(node: minidom.Node) -> str:
    prev = node.previousSibling
    if prev is not None and prev.nodeType == prev.TEXT_NODE and "\n" in prev.data:
        return prev.data[prev.data.rfind("\n") + 1 :]
    return ""


def _merge_list(
    doc: minidom.Document,
    descs: list[minidom.Element],
    ns: str,
    local: str,
    container: str,
    sep: str | None,
    add: list[str],
    remove: set[str],
) -> bool:
    """Merge one keyword list; True when it changed."""
    changed = False
    props = [e for d in descs for e in _elements(d, ns, local)]
    present: set[str] = set()
    first_seq: minidom.Element | None = None
    for prop in props:
        for box in [c for c in prop.childNodes if c.nodeType == c.ELEMENT_NODE and c.namespaceURI == RDF_NS]:
            if first_seq is None and box.localName in ("Bag", "Seq", "Alt"):
                first_seq = box
            for li in _elements(box, RDF_NS, "li"):
                leaf = _leaf(_text(li), sep)
                if leaf in remove:
                    _remove_with_space(li)
                    changed = True
                else:
                    present.add(leaf)
    new = [t for t in add if t not in present and t not in remove]
    if new:
        changed = True
        if first_seq is None:
            desc = descs[0]
            p = _prefix(desc, ns)
            rp = _prefix(desc, RDF_NS)
            child_ind = _child_indent(desc)
            prop = doc.createElementNS(ns, f"{p}:{local}")
            first_seq = doc.createElementNS(RDF_NS, f"{rp}:{container}")
            prop.appendChild(doc.createTextNode("\n" + child_ind + " "))
            prop.appendChild(first_seq)
            prop.appendChild(doc.createTextNode("\n" + child_ind))
            first_seq.appendChild(doc.createTextNode("\n" + child_ind + " "))
            _append_child(doc, desc, prop, child_ind, _closing_indent(desc))
        rp = first_seq.prefix or _prefix(first_seq, RDF_NS)
        li_ind = _child_indent(first_seq)
        for t in new:
            li = doc.createElementNS(RDF_NS, f"{rp}:li")
            li.appendChild(doc.createTextNode(t))
            _append_child(doc, first_seq, li, li_ind, _closing_indent(first_seq))
    # a list left empty goes, as other tools do
    for prop in props:
        boxes = [c for c in prop.childNodes if c.nodeType == c.ELEMENT_NODE]
        if boxes and all(
            b.namespaceURI == RDF_NS and b.localName in ("Bag", "Seq", "Alt") and not _elements(b, RDF_NS, "li")
            for b in boxes
        ):
            _remove_with_space(prop)
    return changed


def _child_indent(parent: minidom.Element) -> str:
    for c in parent.childNodes:
        if c.nodeType == c.ELEMENT_NODE:
            ind = _indent_of(c)
            if ind:
                return ind
    return _indent_of(parent) + " "


def _closing_indent(parent: minidom.Element) -> str:
    last = parent.lastChild
    if last is not None and last.nodeType == last.TEXT_NODE and "\n" in last.data:
        return last.data[last.data.rfind("\n") + 1 :]
    return _indent_of(parent)


def _append_child(
    doc: minidom.Document, parent: minidom.Element, child: minidom.Element, ind: str, closing: str
) -> None:
    last = parent.lastChild
    if last is not None and last.nodeType == last.TEXT_NODE and not last.data.strip():
        parent.insertBefore(child, last)
        parent.insertBefore(doc.createTextNode("\n" + ind), child)
        last.data = "\n" + closing
    else:
        parent.appendChild(doc.createTextNode("\n" + ind))
        parent.appendChild(child)
        parent.appendChild(doc.createTextNode("\n" + closing))


def _remove_with_space(node: minidom.Element) -> None:
    parent = node.parentNode
    assert isinstance(parent, minidom.Element), "keyword lists and their items sit inside an element"
    prev = node.previousSibling
    if isinstance(prev, minidom.Text) and prev.nodeType == prev.TEXT_NODE and not prev.data.strip():
        parent.removeChild(prev)
    parent.removeChild(node)


def merge_xmp(
    data: bytes | None, add: Iterable[str], remove: Iterable[str], seed: Iterable[str] = (), where: str = "sidecar"
) -> bytes:
    """The sidecar ``data`` (None: a new one, holding ``seed`` first) with tags added and removed.

    SidecarError when ``data`` is not an XMP packet that parses (it must then be left as it is).
    """
    return _merge(data, add, remove, seed, where)[0]


def _merge(
    data: bytes | None, add: Iterable[str], remove: Iterable[str], seed: Iterable[str], where: str
) -> tuple[bytes, bool]:
    remove_set = {t for t in (normalize_tag(x) for x in remove) if t}
    add_list = list(dict.fromkeys(t for t in (normalize_tag(x) for x in add) if t))
    if data is None:
        add_list = list(dict.fromkeys([*(t for t in (normalize_tag(x) for x in seed) if t), *add_list]))
        src = _EMPTY_PACKET.encode("utf-8")
    else:
        src = data.rstrip(b"\x00")
    try:
        doc = minidom.parseString(src)
    except (ExpatError, ValueError) as exc:
        raise SidecarError(f"{where} is not valid XMP ({_one_line(exc)}); left untouched") from None
    rdfs = doc.getElementsByTagNameNS(RDF_NS, "RDF")
    if not rdfs:
        raise SidecarError(f"{where} is not an XMP packet (no rdf:RDF); left untouched")
    rdf = rdfs[0]
    descs = _elements(rdf, RDF_NS, "Description")
    if not descs:
        rp = rdf.prefix or _prefix(rdf, RDF_NS)
        desc = doc.createElementNS(RDF_NS, f"{rp}:Description")
        desc.setAttributeNS(RDF_NS, f"{rp}:about", "")
        _append_child(doc, rdf, desc, _child_indent(rdf), _closing_indent(rdf))
        descs = [desc]
    changed = False
    for ns, local, container, sep in _LISTS:
        changed = _merge_list(doc, descs, ns, local, container, sep, add_list, remove_set) or changed
    head = src.lstrip()[:5]
    parts = [n.toxml() for n in doc.childNodes if n.nodeType != n.DOCUMENT_TYPE_NODE]
    text = "\n".join(parts) + "\n"
    if head.startswith(b"<?xml"):
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + text
    return text.encode("utf-8"), changed


# -- writing -------------------------------------------------------------------------------------------
def write_keywords(photo_path: str, add: Iterable[str], remove: Iterable[str]) -> list[str]:
    """Merge tags added and removed into the photo's sidecars (created when missing); the paths written
    (a sidecar that already says so is left as it is).

    ``IMG.ext.xmp`` always, ``IMG.xmp`` unless another photo shares the base name (module doc). Every
    target is tried; when any fails, SidecarError (one line, naming the first failure) is raised after
    the others were written, with the written paths in its ``written`` attribute.
    """
    add, remove = list(add), list(remove)
    photo_path = os.fspath(photo_path)
    paired = has_base_name_sibling(photo_path)
    cands = sidecar_paths(photo_path, paired)
    existing = dict(photo_sidecars(photo_path, paired))
    targets: list[str] = []
    for group in (cands[:2], cands[2:]):
        if not group:
            continue
        found = [c for c in group if c in existing]
        targets.append(found[0] if found else group[0])
    seed: list[str] = []  # a new file starts from the photo's other sidecar's keywords
    newest = newest_sidecar(photo_path, paired)
    written: list[str] = []
    errors: list[str] = []
    for target in targets:
        try:
            if target in existing:
                data = _read_bytes(target)
                mode = os.stat(target).st_mode & 0o7777
                out, changed = _merge(data, add, remove, (), f"existing sidecar {target}")
                if not changed:
                    continue  # it says so already: left as it is
            else:
                if newest is not None and not seed:
                    try:
                        seed = read_keywords(newest[0])
                    except SidecarError:
                        seed = []
                mode = NEW_FILE_MODE
                out = merge_xmp(None, add, remove, seed=seed)
            atomic_write(target, lambda fh: fh.write(out), durable=True, mode=mode)
            written.append(target)
        except SidecarError as exc:
            errors.append(str(exc))
        except OSError as exc:
            errors.append(f"cannot write sidecar {target}: {exc.strerror or _one_line(exc)}")
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        err = SidecarError(errors[0] + more)
        err.written = written  # type: ignore[attr-defined]
        raise err
    return written
