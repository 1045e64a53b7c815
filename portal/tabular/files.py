"""The bytes of an upload or a file, read only when their size is within the limit."""

from typing import IO

from portal.tabular.problems import Problems


def size_text(size: int) -> str:
    """A size as a person reads it: bytes, KB or MB (one decimal)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1_048_576:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1_048_576:.1f} MB"


def read_limited(stream: IO[bytes], problems: Problems, *, max_bytes: int, sheet: str = "") -> bytes | None:
    """The stream's bytes, or None (a problem added) when it is larger than ``max_bytes``.

    A size the stream declares (a Django upload's ``size``) is checked before anything is read; otherwise at
    most ``max_bytes`` + 1 bytes are read, enough to tell it is too large.
    """
    size = getattr(stream, "size", None)
    if size is None or size <= max_bytes:
        if hasattr(stream, "seek"):
            stream.seek(0)
        data = stream.read(max_bytes + 1)
        size = len(data)
    if size > max_bytes:
        problems.add(0, "", f"is too large ({size_text(size)}); at most {size_text(max_bytes)}", sheet=sheet)
        return None
    return data
