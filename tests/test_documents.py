"""Reading policy files: formats, encodings, bad files, folders. Fixtures are written here."""
from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from privacy_clauses.data.documents import (Document, DocumentError, iter_document_paths,
                                            read_document, read_text)
from privacy_clauses.data.segmenter import segment_document

SWEDISH = ("Integritetspolicy\n\nVi samlar in ditt namn och din e-postadress när du registrerar dig. "
           "Du kan när som helst begära åtkomst till dina uppgifter. Vi delar inte dina "
           "personuppgifter med tredje part utan ditt samtycke.\n")
GERMAN = ("Datenschutzerklärung\n\nWir erheben Ihre E-Mail-Adresse, wenn Sie sich registrieren. Sie "
          "können der Verarbeitung Ihrer Daten jederzeit widersprechen. Wir geben Ihre Daten nicht "
          "an Dritte weiter, außer wenn wir gesetzlich dazu verpflichtet sind.\n")
FRENCH = ("Politique de confidentialité\n\nNous collectons votre nom et votre adresse électronique "
          "lorsque vous vous inscrivez. Vous pouvez à tout moment accéder à vos données.\n")

POLICY_PAGE = """<!DOCTYPE html><html><head><title>Privacy Policy | Acme</title>
<script>var tracker = "SCRIPT-TEXT";</script><style>.menu { color: red }</style></head>
<body><nav><ul><li><a href="/">Home NAV-TEXT</a></li><li><a href="/shop">Shop</a></li></ul></nav>
<header><p>Acme Inc. HEADER-TEXT</p></header>
%s
<h1>Privacy Policy</h1>
<p>This policy explains how Acme collects and uses your personal data when you use our website,
our mobile applications and our customer service.</p>
<h2>1. Information we collect</h2>
<p>We collect the following information when you create an account:</p>
<ul><li>Your name and postal address.</li><li>Your IP address and <b>browser type</b>.</li>
<li>Payment details:<ul><li>card number</li><li>billing address</li></ul></li></ul>
<h3>1.1 Cookies</h3>
<p>We use cookies to remember your preferences. You can disable cookies in your browser settings.</p>
<h2>2. Sharing</h2>
<p>We share data with payment processors and analytics providers. We never sell your personal
data to third parties, and we require our processors to protect it.</p>
%s
<footer><p>Copyright 2024 Acme FOOTER-TEXT. All rights reserved.</p></footer>
<script>console.log("SCRIPT-TWO")</script></body></html>"""


def minimal_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A one-page PDF whose text layer holds `lines` (Helvetica, one text line each)."""
    def escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"] + [f"({escape(line)}) Tj T*" for line in lines] + ["ET"]
    stream = "\n".join(ops).encode("latin-1")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    if title:
        objects.append(b"<< /Title (%s) >>" % escape(title).encode("latin-1"))
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Acme policy"
    document.add_heading("Privacy Policy", level=1)
    document.add_heading("Data we collect", level=2)
    document.add_paragraph("We collect the following data:")
    document.add_paragraph("your name", style="List Bullet")
    document.add_paragraph("your e-mail address", style="List Bullet")
    document.add_paragraph("the card's billing address", style="List Bullet 2")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "_ga", "Analytics"
    document.add_heading("Sharing", level=2)
    document.add_paragraph("We share your data with payment processors only.")
    document.save(path)
    return path


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


# --- text and encodings ----------------------------------------------------------------------

@pytest.mark.parametrize("text", [SWEDISH, GERMAN, FRENCH])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16",
                                      "utf-16-le", "utf-16-be"])
def test_text_in_any_common_encoding_is_decoded(tmp_path, text, encoding):
    doc = read_document(write(tmp_path / "policy.txt", text, encoding))
    assert doc.text == text
    assert doc.format == "text" and doc.path == str(tmp_path / "policy.txt")


def test_cp1252_punctuation_and_windows_newlines(tmp_path):
    text = ("Our “Cookie Policy” explains how we use cookies – small text files – on our website. "
            "We don’t sell your data; fees start at € 0.\r\nWe use them to remember your preferences.\r\n")
    doc = read_document(write(tmp_path / "policy.txt", text, "cp1252"))
    assert doc.text == text.replace("\r\n", "\n")


def test_markdown_keeps_its_lines_and_takes_its_title(tmp_path):
    doc = read_document(write(tmp_path / "policy.md", "# Acme Privacy\n\n## Data\n\n- name\n"))
    assert doc.format == "markdown" and doc.title == "Acme Privacy"
    assert doc.text == "# Acme Privacy\n\n## Data\n\n- name\n"


def test_read_text_normalizes_newlines_and_rejects_empty_text():
    doc = read_text("Title\r\nWe collect data.\r", "pasted")
    assert doc == Document(path="pasted", format="text", text="Title\nWe collect data.\n")
    with pytest.raises(DocumentError, match="pasted: empty text"):
        read_text(" \n\t", "pasted")


# --- HTML ------------------------------------------------------------------------------------

def test_html_main_text_keeps_headings_and_lists_and_drops_boilerplate(tmp_path):
    doc = read_document(write(tmp_path / "policy.html", POLICY_PAGE % ("", "")))
    assert doc.format == "html" and doc.title == "Privacy Policy | Acme"
    for junk in ("SCRIPT", "NAV-TEXT", "HEADER-TEXT", "FOOTER-TEXT", "color: red"):
        assert junk not in doc.text
    lines = doc.text.splitlines()
    for line in ("# Privacy Policy", "## 1. Information we collect", "### 1.1 Cookies",
                 "- Your IP address and browser type.", "- Payment details:", "  - card number"):
        assert line in lines


def test_deeply_nested_html_is_read_without_its_menus_scripts_and_footer(tmp_path):
    page = POLICY_PAGE % ("<div>" * 500, "</div>" * 500)
    doc = read_document(write(tmp_path / "nested.html", page))
    assert "## 2. Sharing" in doc.text and "  - billing address" in doc.text
    for junk in ("SCRIPT", "NAV-TEXT", "FOOTER-TEXT"):
        assert junk not in doc.text


def test_opp115_sanitized_html_is_detected_and_joined_as_paragraphs(tmp_path):
    html = "Alpha Privacy Policy <br> <br>|||We collect your <strong>email</strong>.|||" \
           "<ul> <li> We share data with advertisers. </li> <li> And analytics. </li> </ul>"
    doc = read_document(write(tmp_path / "1_alpha.com.html", html))
    assert doc.format == "opp115"
    assert doc.text == ("Alpha Privacy Policy\n\nWe collect your email.\n\n"
                        "* We share data with advertisers.\n* And analytics.")


def test_latin1_html_is_decoded(tmp_path):
    page = POLICY_PAGE % ("<p>Wir erheben Ihre Daten gemäß Artikel 6 der Verordnung über Datenschutz.</p>", "")
    doc = read_document(write(tmp_path / "policy.htm", page, "latin-1"))
    assert "gemäß" in doc.text


# --- PDF and Word ----------------------------------------------------------------------------

def test_pdf_text_layer_and_title(tmp_path):
    pdf = minimal_pdf(["PRIVACY POLICY", "We collect your name and e-mail address (when you register)."],
                      title="Acme Privacy")
    doc = read_document(write(tmp_path / "policy.pdf", pdf))
    assert doc.format == "pdf" and doc.title == "Acme Privacy"
    assert doc.text.splitlines()[:2] == ["PRIVACY POLICY",
                                         "We collect your name and e-mail address (when you register)."]


def test_docx_headings_lists_and_tables(tmp_path):
    doc = read_document(write_docx(tmp_path / "policy.docx"))
    assert doc.format == "docx" and doc.title == "Acme policy"
    assert doc.text.splitlines() == [
        "# Privacy Policy", "", "## Data we collect", "", "We collect the following data:", "",
        "- your name", "- your e-mail address", "  - the card's billing address", "",
        "_ga | Analytics", "", "## Sharing", "", "We share your data with payment processors only."]


# --- files that cannot be read ---------------------------------------------------------------

BAD_FILES = {
    "corrupt.pdf": (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\ngarbage" + bytes(range(256)), "corrupt or unreadable PDF"),
    "scanned.pdf": (blank_pdf(), "no text layer"),
    "binary.txt": (bytes(range(256)) * 40, "binary content"),
    "image.html": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10, "binary content"),
    "empty.txt": (b"", "empty file"),
    "blank.md": (b"  \n\n\t \n", "empty file"),
    "nothing.html": (b"<html><body><script>var x = 1;</script></body></html>", "no text found"),
    "broken.docx": (b"PK\x03\x04 not a zip archive", "corrupt or unreadable Word file"),
    "surrogate.txt": (b"\xff\xfe" + b"a\x00\x00\xd8b\x00", "undecodable text"),
    "data.json": (b'{"a": 1}', "unknown type '.json'"),
    "README": (b"hello", "unknown type (no extension)"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_files_raise_document_error_naming_file_and_reason(tmp_path, name):
    data, reason = BAD_FILES[name]
    path = write(tmp_path / name, data)
    with pytest.raises(DocumentError) as caught:
        read_document(path)
    assert str(caught.value).startswith(f"{path}: ") and reason in caught.value.reason
    assert caught.value.path == str(path)


def test_missing_file_and_folder_raise_document_error(tmp_path):
    with pytest.raises(DocumentError, match="no such file"):
        read_document(tmp_path / "missing.txt")
    with pytest.raises(DocumentError, match="not a file"):
        read_document(tmp_path)


# --- folders ---------------------------------------------------------------------------------

def test_iter_document_paths_walks_sorted_skips_hidden_and_yields_each_file_once(tmp_path):
    for name in ["b.txt", "a/z.html", "a/c.md", ".hidden.txt", ".git/config.txt", "a/.cache/x.txt", "notes.json"]:
        write(tmp_path / name, "x")
    found = list(iter_document_paths([tmp_path, tmp_path / "b.txt", tmp_path / "missing.pdf"]))
    assert found == [tmp_path / "a/c.md", tmp_path / "a/z.html", tmp_path / "b.txt",
                     tmp_path / "notes.json", tmp_path / "missing.pdf"]


def test_a_folder_of_good_and_bad_files_reads_and_segments_every_good_one(tmp_path):
    """The caller's loop: every good document is segmented, every bad one reported with a reason."""
    folder = tmp_path / "policies"
    for name, (data, _) in BAD_FILES.items():
        write(folder / "bad" / name, data)
    paragraph = (("We collect your name, e-mail address and IP address when you register. We use "
                  "them to provide the service and never sell them to third parties. ") * 9).strip()
    write(folder / "big.txt", "\n\n".join(["1. Data we collect", paragraph] * 15_200))
    assert (folder / "big.txt").stat().st_size > 20_000_000
    write(folder / "latin1.txt", GERMAN, "latin-1")
    write(folder / "utf16.txt", SWEDISH, "utf-16")
    write(folder / "nested.html", POLICY_PAGE % ("<div>" * 500, "</div>" * 500))
    write(folder / "policy.pdf", minimal_pdf(["Privacy", "We collect your e-mail address."]))
    write_docx(folder / "policy.docx")

    segmented, errors = {}, {}
    for path in iter_document_paths([folder]):
        try:
            segmented[path.name] = segment_document(read_document(path))
        except DocumentError as err:
            errors[path.name] = err.reason
    assert sorted(errors) == sorted(BAD_FILES)
    assert all(BAD_FILES[name][1] in reason for name, reason in errors.items())
    assert sorted(segmented) == ["big.txt", "latin1.txt", "nested.html", "policy.docx", "policy.pdf", "utf16.txt"]
    assert all(segments for segments in segmented.values())
    big = segmented["big.txt"]
    assert big[0].text == paragraph and big[0].headings == ("1. Data we collect",)
    assert len(big) == 15_200 and big[-1].span[1] == (folder / "big.txt").stat().st_size
    assert segmented["utf16.txt"][0].language == "sv" and segmented["latin1.txt"][0].language == "de"
