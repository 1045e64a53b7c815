"""The PDF renderer's child process: ``python -I portal/pdf_child.py FOLDER`` (see ``portal.pdf``).

Reads ``document.html``, ``spec.json`` and the attachments from FOLDER, writes ``document.pdf`` and
``report.json`` (the URLs refused, the peak memory) there. It imports WeasyPrint and nothing of the portal
but this module: it never sees the settings, the database or the network.
"""

import json
import resource
import sys
from pathlib import Path

from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher

# Where relative URLs of the document point: a reserved name (RFC 2606) that never resolves, and the fetcher
# refuses it anyway.
BASE_URL = "https://vmcensus.invalid/"
DATA_URI_MAX_BYTES = 5 * 1024 * 1024


class DataOnlyFetcher(URLFetcher):
    """Answers ``data:`` URIs up to a size; every other URL (file, http, https, ftp, relative) is refused and
    written down, so a test or a pack's report can show what the document asked for."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=1)
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if not url.startswith("data:") or len(url) > DATA_URI_MAX_BYTES * 4 // 3 + 100:
            self.refused.append(url[:300])
            raise ValueError(f"the PDF renderer fetches nothing: {url[:100]!r} refused")
        return super().fetch(url, headers)


def main(folder: Path) -> None:
    spec = json.loads((folder / "spec.json").read_text(encoding="utf-8"))
    fetcher = DataOnlyFetcher()
    attachments = [
        Attachment(string=(folder / item["file"]).read_bytes(), name=item["name"], description=item["description"],
                   relationship=item["relationship"], url_fetcher=fetcher)
        for item in spec["attachments"]
    ]
    html = HTML(string=(folder / "document.html").read_text(encoding="utf-8"), base_url=BASE_URL,
                url_fetcher=fetcher, encoding="utf-8")
    html.write_pdf(folder / "document.pdf", pdf_variant=spec["variant"], attachments=attachments,
                   uncompressed_pdf=False)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (folder / "report.json").write_text(
        json.dumps({"refused": fetcher.refused, "peak_memory_mb": round(peak_kb / 1024, 1)}), encoding="utf-8"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
