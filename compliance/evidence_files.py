"""What an evidence upload must be before it is stored: a named file of an allowed type, by its content.

The type is read from the bytes (a PDF starts with ``%PDF-``, a PNG with its signature, an xlsx is a zip with
a workbook in it, CSV and text are UTF-8 without NUL bytes and are not HTML), and must agree with the name's
extension; a file that is HTML under any name is refused, so nothing a browser would run is ever stored.
The name is kept for the download only, never as a path.
"""

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

# Extension → (type sniffed from the content, the Content-Type it is served with).
ALLOWED_TYPES = {
    "pdf": ("pdf", "application/pdf"),
    "png": ("png", "image/png"),
    "jpg": ("jpeg", "image/jpeg"),
    "jpeg": ("jpeg", "image/jpeg"),
    "csv": ("text", "text/csv"),
    "txt": ("text", "text/plain"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}
ALLOWED_TEXT = "PDF, PNG, JPEG, CSV, XLSX or TXT"
NAME_MAX_LENGTH = 200
# How much of a text file is read to tell it from HTML: markup shows in its first kilobytes.
SNIFF_BYTES = 8192
HTML_MARKERS = re.compile(rb"<\s*(!doctype|html|head|body|script|iframe|svg|object|embed|meta|link|style)\b",
                          re.IGNORECASE)
# Entries an xlsx file may list before it is refused: a workbook has a few dozen, a zip bomb thousands.
XLSX_MAX_ENTRIES = 5000


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    size: int
    sha256: str
    content: bytes


def _name_checked(name: str) -> tuple[str, str]:
    name = unicodedata.normalize("NFC", name or "").strip()
    if not name:
        raise ValidationError({"files": "The file has no name."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"files": f"The file name is longer than {NAME_MAX_LENGTH} characters: shorten it."})
    if any(character in name for character in '/\\<>:"|?*') or any(unicodedata.category(c)[0] == "C"
                                                                   for c in name):
        raise ValidationError({"files": "The file name has a character a file name cannot have (/ \\ < > : \" | ? * "
                                       "or a control character): rename it."})
    if name.startswith("."):
        raise ValidationError({"files": "The file name starts with a dot: rename it."})
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension not in ALLOWED_TYPES:
        raise ValidationError({"files": f"{name!r} is not a {ALLOWED_TEXT} file: those are the evidence types "
                                       "kept."})
    return name, extension


def _sniff(content: bytes) -> str | None:
    """The type the bytes are ("html" for markup, under any disguise), or None when none of the allowed types."""
    looks_like_html = HTML_MARKERS.search(content[:SNIFF_BYTES]) is not None
    if content.startswith(b"%PDF-"):
        return "html" if looks_like_html else "pdf"  # HTML behind a PDF signature: a polyglot, refused
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError):
            return None
        if len(names) <= XLSX_MAX_ENTRIES and "[Content_Types].xml" in names and "xl/workbook.xml" in names:
            return "xlsx"
        return None
    if looks_like_html:
        return "html"
    if b"\x00" in content:
        return None
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text"


def evidence_file_checked(*, name: str, content: bytes) -> CheckedFile:
    """The upload as it will be stored, or a ``ValidationError`` on ``file`` saying what is wrong with it."""
    limit = settings.EVIDENCE_UPLOAD_MAX_BYTES
    name, extension = _name_checked(name)
    if not content:
        raise ValidationError({"files": "The file is empty."})
    if len(content) > limit:
        raise ValidationError({"files": f"The file is {len(content) / 1_048_576:.1f} MB; evidence files are at most "
                                       f"{limit / 1_048_576:.0f} MB."})
    expected, content_type = ALLOWED_TYPES[extension]
    found = _sniff(content)
    if found != expected:
        if found is None:
            what = f"not a {extension.upper()} file"
        else:
            what = "HTML" if found == "html" else f"a {found.upper()} file"
        raise ValidationError({"files": f"{name!r} is named .{extension} but its content is {what}: only "
                                       f"{ALLOWED_TEXT} files whose content matches their name are kept."})
    return CheckedFile(name=name, content_type=content_type, size=len(content),
                       sha256=hashlib.sha256(content).hexdigest(), content=content)
