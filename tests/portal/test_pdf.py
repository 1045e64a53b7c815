"""The PDF renderer fetches nothing: only data: URIs, in a child process with time and memory limits."""

import hashlib
import http.server
import io
import threading

import pypdf
import pytest

from portal.pdf import PdfAttachment, PdfRenderError, pdf_render, static_data_uri

PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the http.server hook's name
        type(self).hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def listener():
    """A real HTTP server on a free port that counts what is asked of it."""
    _Counting.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_document_renders_as_pdf_a3_with_its_data_images_and_attachments():
    population = b"vm,owner\nweb01,Ann\n"
    result = pdf_render(
        html=f'<h1>Evidence</h1><p>Three VMs.</p><img src="{PIXEL}" alt="">',
        attachments=[PdfAttachment(name="population.csv", content=population, description="The population")],
        title="Test pack",
    )

    assert result.pdf.startswith(b"%PDF-")
    assert "Evidence" in text_of(result.pdf) and "Three VMs." in text_of(result.pdf)
    reader = pypdf.PdfReader(io.BytesIO(result.pdf))
    assert reader.attachments == {"population.csv": [population]}
    assert hashlib.sha256(reader.attachments["population.csv"][0]).hexdigest() == hashlib.sha256(population).hexdigest()
    assert 'pdfaid:part="3"' in reader.trailer["/Root"]["/Metadata"].get_data().decode()
    assert result.refused == []


def test_the_renderer_reads_no_file_calls_no_server_and_attaches_nothing_it_was_not_given(listener):
    hostile = (
        '<img src="file:///etc/passwd">'
        '<link rel="attachment" href="file:///etc/passwd">'
        f'<link rel="stylesheet" href="{listener}/style.css">'
        f'<img src="{listener}/pixel.png">'
        f'<style>@import url("{listener}/imported.css");</style>'
        '<img src="/static/favicon.svg">'
        "<p>still rendered</p>"
    )

    result = pdf_render(html=hostile)

    assert "still rendered" in text_of(result.pdf)
    assert _Counting.hits == []
    assert pypdf.PdfReader(io.BytesIO(result.pdf)).attachments == {}
    assert b"root:" not in result.pdf
    assert {"file:///etc/passwd", f"{listener}/style.css", f"{listener}/pixel.png", f"{listener}/imported.css",
            "https://vmcensus.invalid/static/favicon.svg"} <= set(result.refused)


def test_the_portal_puts_its_own_static_files_in_as_data_uris():
    uri = static_data_uri("favicon.svg")

    result = pdf_render(html=f'<img src="{uri}" style="width:2cm"><p>logo</p>')

    assert uri.startswith("data:image/svg+xml;base64,")
    assert result.refused == []
    with pytest.raises(FileNotFoundError):
        static_data_uri("../settings/base.py")


def test_a_render_that_runs_too_long_is_stopped_with_a_reason():
    rows = "".join(f"<tr><td>{n}</td><td>{'x' * 50}</td></tr>" for n in range(20000))

    with pytest.raises(PdfRenderError, match="took longer than 1 s and was stopped"):
        pdf_render(html=f"<table>{rows}</table>", timeout=1)


def test_a_render_that_needs_too_much_memory_is_stopped_with_a_reason():
    with pytest.raises(PdfRenderError, match="needed more than 40 MB|rendering the PDF failed"):
        pdf_render(html="<p>x</p>", memory_mb=40)
