"""PDF rendering that fetches nothing: WeasyPrint in a child process with time and memory limits, whose only URL
fetcher answers ``data:`` URIs and refuses everything else.

Packs are built from templates whose text comes from users (VM names, answers, annotations). The templates
escape it; this module makes sure that even HTML that slipped through cannot read a file of the server, call
the network or attach anything: the portal's stylesheets and images are put into the document as ``data:``
URIs by the caller (``static_data_uri``), so the renderer needs no file and no URL at all. WeasyPrint's own
advice for untrusted input is a separate process with limits; a runaway render is killed, never waited for.
"""

import base64
import json
import mimetypes
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation

# PDF/A-3 keeps embedded files (the population spreadsheet, the manifest) as PDF/A-2 would not.
PDF_VARIANT = "pdf/a-3b"
CHILD = Path(__file__).with_name("pdf_child.py")


class PdfRenderError(Exception):
    """The renderer failed, ran out of time or memory; ``str()`` says which, for the person who asked."""


@dataclass(frozen=True)
class PdfAttachment:
    """A file embedded in the PDF (PDF/A-3 associated file), e.g. the population as a spreadsheet."""

    name: str
    content: bytes
    description: str = ""
    relationship: str = "Data"


@dataclass
class PdfResult:
    pdf: bytes
    refused: list[str] = field(default_factory=list)  # every URL the document asked for and did not get
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    cpu_seconds: float = 0.0  # the child's CPU time: a benchmark's figure that the machine's other load spares


def _static(path: str) -> Path:
    """A file among the portal's static files; a path that leaves them is no such file."""
    try:
        found = finders.find(path)
    except SuspiciousFileOperation:
        found = None
    if not found:
        raise FileNotFoundError(f"no static file {path!r}")
    return Path(found)


def static_data_uri(path: str) -> str:
    """A static file of the portal (``css/pack.css``) as a ``data:`` URI, for a template to use as a URL."""
    content = _static(path).read_bytes()
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(content).decode()}"


def static_text(path: str) -> str:
    """A static stylesheet's text, to put in a ``<style>`` element of the document."""
    return _static(path).read_text(encoding="utf-8")


def _limits(memory_mb: int, cpu_seconds: int):
    def apply() -> None:  # runs in the child, before it starts
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))

    return apply


def pdf_render(
    *,
    html: str,
    attachments: list[PdfAttachment] = (),
    title: str = "",
    timeout: int | None = None,
    memory_mb: int | None = None,
) -> PdfResult:
    """Render ``html`` to PDF/A-3 in a child process; raises ``PdfRenderError`` when it fails or overruns.

    The child gets the document and the attachments as files in a private temporary folder and nothing else of
    the portal: no settings, no database, no URL it may open.
    """
    timeout = timeout or settings.PDF_RENDER_TIMEOUT
    memory_mb = memory_mb or settings.PDF_RENDER_MEMORY_MB
    with tempfile.TemporaryDirectory(prefix="vmcensus-pdf-") as folder:
        work = Path(folder)
        (work / "document.html").write_text(html, encoding="utf-8")
        spec = {"title": title, "variant": PDF_VARIANT, "attachments": []}
        for number, attachment in enumerate(attachments):
            (work / f"attachment-{number}").write_bytes(attachment.content)
            spec["attachments"].append({
                "file": f"attachment-{number}", "name": attachment.name, "description": attachment.description,
                "relationship": attachment.relationship,
            })
        (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        start = time.perf_counter()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            # Run as a script, not a module of the portal package: the child imports WeasyPrint and nothing else.
            finished = subprocess.run(  # noqa: S603 - our own interpreter and script, no shell, no user input
                [sys.executable, "-I", str(CHILD), str(work)],
                cwd=work, env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(work)},
                capture_output=True, timeout=timeout, preexec_fn=_limits(memory_mb, timeout), check=False,
            )
        except subprocess.TimeoutExpired:
            raise PdfRenderError(f"rendering the PDF took longer than {timeout} s and was stopped") from None
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_seconds = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        report_path = work / "report.json"
        if finished.returncode != 0 or not report_path.exists():
            tail = finished.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            if b"MemoryError" in finished.stderr or finished.returncode in (-9, 137):
                raise PdfRenderError(f"rendering the PDF needed more than {memory_mb} MB and was stopped")
            raise PdfRenderError(f"rendering the PDF failed: {tail[0][:300]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
        return PdfResult(
            pdf=(work / "document.pdf").read_bytes(), refused=report["refused"], seconds=seconds,
            peak_memory_mb=report["peak_memory_mb"], cpu_seconds=round(cpu_seconds, 1),
        )
