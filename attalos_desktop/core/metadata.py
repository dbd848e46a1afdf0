"""Photo metadata (exifread) and the keywords a photo already carries.

Keywords are gathered from every place photo tools put them, because users have years of tagging in
Lightroom, digiKam, Windows Explorer or Photoshop and expect to see it: an XMP sidecar (``IMG.ext.xmp``
or ``IMG.xmp``; which, in core/sidecars.py), embedded XMP ``dc:subject``, IPTC Keywords (2:25) and EXIF
XPKeywords. Everything here tolerates garbage: a bad field is dropped, the photo is still indexed.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import exifread
from PIL import Image, ImageFile, IptcImagePlugin

from .tags import normalize_tag

logging.getLogger("exifread").setLevel(logging.CRITICAL)  # garbage EXIF is normal; not worth a warning

_SUBJECT = re.compile(rb"<dc:subject\b[^>]*>(.*?)</dc:subject>", re.S)
_LI = re.compile(rb"<rdf:li\b[^>]*>(.*?)</rdf:li>", re.S)
_SUBJECT_ATTR = re.compile(rb"dc:subject\s*=\s*\"([^\"]*)\"")


@dataclass
class Metadata:
    taken: str | None = None  # ISO 8601, local time as recorded by the camera
    taken_offset: str | None = None  # its UTC offset ("+02:00", EXIF OffsetTimeOriginal) when recorded
    taken_bad: bool = False  # a date was recorded but is impossible, in the future or before 1826: unknown
    camera: str | None = None
    lens: str | None = None
    lat: float | None = None
    lon: float | None = None
    orientation: int | None = None
    keywords: list[str] = field(default_factory=list)


def read_exif(path: str) -> Metadata:
    """Date taken, camera, lens, GPS and orientation through exifread; {} on any problem."""
    md = Metadata()
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False, extract_thumbnail=False)
    except Exception:  # noqa: BLE001 - exifread raises many kinds on garbage; no EXIF then
        return md
    original = tags.get("EXIF DateTimeOriginal")
    raw_date = original or tags.get("Image DateTime")
    md.taken = _date(raw_date)
    md.taken_bad = md.taken is None and _recorded(raw_date)
    if md.taken is not None and original is not None:
        md.taken_offset = _offset(tags.get("EXIF OffsetTimeOriginal"))
    make = _text(tags.get("Image Make"))
    model = _text(tags.get("Image Model"))
    if model and make and not model.lower().startswith(make.lower().split()[0]):
        md.camera = f"{make} {model}"
    else:
        md.camera = model or make
    md.lens = _text(tags.get("EXIF LensModel"))
    md.lat = _gps(tags.get("GPS GPSLatitude"), tags.get("GPS GPSLatitudeRef"), 90.0)
    md.lon = _gps(tags.get("GPS GPSLongitude"), tags.get("GPS GPSLongitudeRef"), 180.0)
    if md.lat is None or md.lon is None:
        md.lat = md.lon = None
    try:
        o = tags.get("Image Orientation")
        o = int(o.values[0]) if o is not None else None
        md.orientation = o if o in range(1, 9) else None
    except Exception:  # noqa: BLE001
        md.orientation = None
    return md


def _text(tag: Any) -> str | None:
    if tag is None:
        return None
    try:
        s = str(tag.printable if hasattr(tag, "printable") else tag).replace("\x00", "").strip()
    except Exception:  # noqa: BLE001
        return None
    if not s or len(s) > 200 or not s.isprintable():
        return None
    return s


def _date(tag: Any, now: _dt.datetime | None = None) -> str | None:
    """The recorded local time as ISO 8601; None when absent or not a possible capture time: impossible
    (2019:13:40), before the first photograph (1826) or later than tomorrow (a camera clock gone wrong)."""
    s = _text(tag)
    if not s:
        return None
    latest = (now or _dt.datetime.now()) + _dt.timedelta(days=1)  # the camera's zone may be ahead of ours
    if len(s) > 10 and s[10] == "T":  # ISO 8601, as some editors write it: "2012-09-17T15:53:45-04:00"
        s = s[:10] + " " + s[11:]
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y:%m:%d"):
        try:
            d = _dt.datetime.strptime(s[:19], fmt)
        except ValueError:
            continue
        if 1826 <= d.year and d <= latest:
            return d.isoformat(timespec="seconds")
    return None


def _recorded(tag: Any) -> bool:
    """A date field with something in it: cameras with an unset clock write blanks or zeros (no date)."""
    if tag is None:
        return False
    try:
        s = str(getattr(tag, "values", tag))
    except Exception:  # noqa: BLE001 - undecodable garbage is still something recorded
        return True
    return any(c not in "0: -\x00" for c in s)


_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _offset(tag: Any) -> str | None:
    """EXIF's "+02:00" when it is a real UTC offset (-12:00 .. +14:00)."""
    m = _OFFSET.match(_text(tag) or "")
    if not m:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    if int(m.group(3)) >= 60 or minutes > (14 * 60 if m.group(1) == "+" else 12 * 60):
        return None
    return m.group(0)


def _gps(tag: Any, ref: Any, limit: float) -> float | None:
    try:
        vals = [float(v) for v in tag.values[:3]]
        if len(vals) != 3:
            return None
        deg = vals[0] + vals[1] / 60.0 + vals[2] / 3600.0
        r = _text(ref) or ""
        if r.upper().startswith(("S", "W")):
            deg = -deg
    except Exception:  # noqa: BLE001 - zero denominators, missing values, garbage types
        return None
    if deg != deg or abs(deg) > limit:
        return None
    return round(deg, 7)


def keywords_from_xmp(xmp: bytes | str | None) -> list[str]:
    """dc:subject entries of an XMP packet (regex, because real packets are often not valid XML)."""
    if not xmp:
        return []
    data = xmp.encode("utf-8", "replace") if isinstance(xmp, str) else bytes(xmp)
    out: list[str] = []
    for block in _SUBJECT.findall(data):
        out.extend(_decode(li) for li in _LI.findall(block))
    for attr in _SUBJECT_ATTR.findall(data):
        out.extend(_decode(attr).split(","))
    return out


def _decode(raw: bytes) -> str:
    for enc in ("utf-8", "cp1252"):
        try:
            return html.unescape(raw.decode(enc))
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def keywords_from_image(im: Image.Image) -> list[str]:
    """Embedded XMP, IPTC Keywords and EXIF XPKeywords of an opened Pillow image."""
    out: list[str] = []
    try:
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
        if xmp is None and hasattr(im, "tag_v2"):
            xmp = im.tag_v2.get(700)
        out.extend(keywords_from_xmp(xmp))
    except Exception:  # noqa: BLE001
        pass
    try:
        # getiptcinfo answers None for anything but a JPEG, TIFF or IPTC file (an ImageFile)
        iptc = (
            IptcImagePlugin.getiptcinfo(im)
            if isinstance(im, ImageFile.ImageFile) and im.format in ("JPEG", "MPO", "TIFF")
            else None
        )
        kw = (iptc or {}).get((2, 25))
        if kw is not None:
            for item in kw if isinstance(kw, list) else [kw]:
                out.append(_decode(bytes(item)))
    except Exception:  # noqa: BLE001
        pass
    try:
        xp = im.getexif().get(0x9C9E)
        if xp is not None:
            raw = bytes(xp) if not isinstance(xp, str) else xp.encode("utf-16-le")
            text = raw.decode("utf-16-le", "replace").rstrip("\x00")
            out.extend(text.split(";"))
    except Exception:  # noqa: BLE001
        pass
    return out


def clean_keywords(raw: list[str]) -> list[str]:
    """Normalised, de-duplicated keywords; Lightroom hierarchies ("places|italy") keep the leaf."""
    seen: dict[str, None] = {}
    for k in raw:
        for part in (k or "").split("|")[-1:]:
            t = normalize_tag(part)
            if t and len(t) <= 100 and t.isprintable():
                seen.setdefault(t, None)
    return list(seen)
