"""Reading policy files into plain text: the text every segment span refers to.

`read_document` picks a reader by file extension (see READERS): plain text and Markdown
(encoding detected), HTML (the page's main content), OPP-115 sanitized HTML (detected by its
`|||` segment separators), PDF (text layer) and Word .docx. Structure that the segmenter
needs is kept as Markdown-like lines: headings as `#` lines, list items as `- ` lines (nested
ones indented), paragraphs separated by blank lines. Newlines are always "\\n".

Anything that cannot be read raises DocumentError naming the file and the reason, never a
library's own exception, so that a caller can report the file, skip it and go on.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import chardet
import docx
import trafilatura
from docx.table import Table
from inscriptis import Inscriptis
from lxml import etree
from lxml import html as lxml_html
from pypdf import PdfReader

from privacy_clauses.data.opp115 import html_to_text

OPP115_SEPARATOR = "|||"
# Share of control characters (NUL and friends) above which decoded bytes are not text.
MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_MARKDOWN_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


class DocumentError(Exception):
    """A file that cannot be read as a policy; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class Document:
    """A policy as text. `path` is the path as given (or the id passed to read_text); the
    segmenter uses it as every segment's document_id. `format` names the reader used."""

    path: str
    format: str
    text: str
    title: str | None = None


def read_text(text: str, document_id: str) -> Document:
    """A Document for a string the caller already has (plain text or Markdown)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = _normalize_newlines(text)
    if not text.strip():
        raise DocumentError(document_id, "empty text")
    return Document(path=str(document_id), format="text", text=text)


def read_document(path: str | Path) -> Document:
    """Read one policy file; raises DocumentError when it cannot be read."""
    file = Path(path)
    if not file.is_file():
        raise DocumentError(path, "no such file" if not file.exists() else "not a file")
    reader = READERS.get(file.suffix.lower())
    if reader is None:
        kind = repr(file.suffix) if file.suffix else "(no extension)"
        raise DocumentError(path, f"unknown type {kind}; readable: {', '.join(sorted(READERS))}")
    try:
        data = file.read_bytes()
    except OSError as err:
        raise DocumentError(path, f"cannot read ({err.strerror})") from None
    if not data.strip():
        raise DocumentError(path, "empty file")
    fmt, text, title = reader(data, path)
    text = _normalize_newlines(text)
    if not text.strip():
        raise DocumentError(path, "no text found")
    return Document(path=str(path), format=fmt, text=text, title=title)


def iter_document_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Every file named or found (recursively) under the folders named, once each.

    Folders are walked in sorted order, skipping hidden files and folders (names starting
    with "."). Files of any extension are yielded: read_document reports the ones it cannot
    read ("unknown type"), so that nothing is skipped silently. A path that does not exist
    is yielded too, and read_document reports it.
    """
    seen: set[Path] = set()
    for path in map(Path, paths):
        for file in (_walk(path) if path.is_dir() else [path]):
            if file not in seen:
                seen.add(file)
                yield file


def _walk(folder: Path) -> list[Path]:
    """The folder's visible files, sorted by path ("a/b.txt" before "b.txt")."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root) / f for f in files if not f.startswith(".")]
    return sorted(found)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- text ------------------------------------------------------------------------------------

def _decode(data: bytes, path: str | Path) -> str:
    """Bytes to text: a byte-order mark wins, then strict UTF-8, then chardet's guess.

    chardet (7.x) was measured more reliable than charset-normalizer on short latin-1 and
    cp1252 policies (charset-normalizer picked cp1250 and turned "å" into "ĺ").
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data, encoding, path)
    try:
        text = data.decode("utf-8")
        if not _looks_binary(text):
            return text
    except UnicodeDecodeError:
        pass
    encoding = chardet.detect(data, max_bytes=len(data), prefer_superset=True)["encoding"]
    if encoding is None:
        raise DocumentError(path, "binary content, not text (no text encoding fits)")
    return _checked(data, encoding, path)


def _checked(data: bytes, encoding: str, path: str | Path) -> str:
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise DocumentError(path, f"undecodable text (not valid {encoding})") from None
    if _looks_binary(text):
        raise DocumentError(path, "binary content, not text (control characters)")
    return text.lstrip("\ufeff")


def _looks_binary(text: str) -> bool:
    return len(_CONTROL.findall(text)) > MAX_CONTROL_SHARE * len(text)


def _read_plain(data: bytes, path: str | Path) -> tuple[str, str, str | None]:
    return "text", _decode(data, path), None


def _read_markdown(data: bytes, path: str | Path) -> tuple[str, str, str | None]:
    text = _decode(data, path)
    title = _MARKDOWN_TITLE.search(text)
    return "markdown", text, title.group(1) if title else None


def _join_blocks(blocks: list[str]) -> str:
    """Blocks as lines: list items ("- ...") one per line, everything else between blank lines."""
    out: list[str] = []
    for block in blocks:
        if out and not (block.lstrip().startswith("- ") and out[-1].lstrip().startswith("- ")):
            out.append("")
        out.append(block)
    return "\n".join(out)


# --- HTML ------------------------------------------------------------------------------------

def _read_html(data: bytes, path: str | Path) -> tuple[str, str, str | None]:
    """The page's main content by trafilatura, or all visible text by inscriptis if that is empty.

    trafilatura drops menus, footers and scripts; its structured result is written out as
    Markdown-like lines here (its own Markdown output escapes characters such as "_" and "*").
    The page is parsed with lxml's huge_tree option so that deeply nested pages keep their text
    (libxml2 otherwise drops everything below 256 levels).
    Known loss: trafilatura drops an element whose whole text is a share-button word such as
    "E-mail", "Facebook" or "Google" (its social-media filter), so such bare list items are lost.
    """
    text = _decode(data, path)
    if OPP115_SEPARATOR in text:
        return "opp115", "\n\n".join(html_to_text(part) for part in text.split(OPP115_SEPARATOR)), None
    try:
        tree = lxml_html.document_fromstring(_XML_DECLARATION.sub("", text),
                                             parser=lxml_html.HTMLParser(huge_tree=True))
    except (etree.ParserError, ValueError) as err:
        raise DocumentError(path, f"not readable as HTML ({err})") from None
    title = " ".join((tree.findtext(".//title") or "").split()) or None
    _wrap_body_in_main(tree)
    extracted = trafilatura.bare_extraction(tree, favor_recall=True, include_comments=False,
                                            include_tables=True, include_formatting=True,
                                            deduplicate=False, with_metadata=False)
    blocks = _render(extracted.body) if extracted is not None and extracted.body is not None else []
    if blocks:
        return "html", _join_blocks(blocks), title
    try:
        return "html", Inscriptis(tree).get_text(), title
    except RecursionError:
        raise DocumentError(path, "HTML nested too deeply to read") from None


def _wrap_body_in_main(tree: lxml_html.HtmlElement) -> None:
    """Give pages without <main> or <article> one around their body (minus the site header).

    trafilatura keeps headings and lists only when it finds a content container; on a page
    whose text sits directly in <body> it falls back to flat paragraphs.
    """
    body = tree.find("body")
    if body is None or tree.find(".//main") is not None or tree.find(".//article") is not None:
        return
    for header in body.findall("header"):
        header.drop_tree()
    main = etree.Element("main")
    main.extend(list(body))
    main.text, body.text = body.text, None
    body.append(main)


def _render(element: etree._Element) -> list[str]:
    """trafilatura's XML (head, p, list/item, table/row/cell, lb) as text blocks."""
    blocks: list[str] = []
    for child in element:
        if child.tag == "head":
            rend = child.get("rend", "")
            level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2
            blocks.append("#" * level + " " + _inline(child))
        elif child.tag == "list":
            blocks += _render_list(child, depth=0)
        elif child.tag == "table":
            blocks += [" | ".join(_inline(cell) for cell in row.iter("cell")) for row in child.iter("row")]
        elif child.tag in ("p", "quote", "code"):
            blocks.append(_inline(child))
        else:
            blocks += _render(child)
    return [b for b in blocks if b.strip(" -#|")]


def _render_list(element: etree._Element, depth: int) -> list[str]:
    blocks = []
    for item in element.iterchildren("item"):
        blocks.append("  " * depth + "- " + _inline(item, skip="list"))
        for nested in item.iterchildren("list"):
            blocks += _render_list(nested, depth + 1)
    return blocks


def _inline(element: etree._Element, skip: str | None = None) -> str:
    """The element's text with whitespace collapsed and a line break for each <lb/>."""
    lines: list[list[str]] = [[]]

    def walk(node: etree._Element) -> None:
        lines[-1].append(node.text or "")
        for child in node:
            if child.tag == "lb":
                lines.append([])
            elif child.tag != skip:
                walk(child)
            lines[-1].append(child.tail or "")

    walk(element)
    return "\n".join(text for text in (" ".join("".join(line).split()) for line in lines) if text)


# --- PDF and Word ----------------------------------------------------------------------------

def _read_pdf(data: bytes, path: str | Path) -> tuple[str, str, str | None]:
    """The PDF's text layer, pages separated by blank lines; scanned pages have none (run OCR)."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "encrypted PDF (needs a password)")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except DocumentError:
        raise
    except Exception as err:  # pypdf raises many types on damaged input; all mean "unreadable"
        raise DocumentError(path, f"corrupt or unreadable PDF ({type(err).__name__}: {err})") from None
    if not pages:
        raise DocumentError(path, "corrupt or unreadable PDF (no pages)")
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError(path, "PDF has no text layer (scanned images?); run OCR on it first")
    return "pdf", text, title or None


def _read_docx(data: bytes, path: str | Path) -> tuple[str, str, str | None]:
    """Word paragraphs and tables in order: Title and Heading styles as `#` lines, List styles
    ("List Bullet", "List Number 2", "List Paragraph") as `- ` lines indented by their level."""
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as err:  # python-docx raises zip, XML and key errors on damaged files
        raise DocumentError(path, f"corrupt or unreadable Word file ({type(err).__name__}: {err})") from None
    blocks = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks += [" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows]
            continue
        text = block.text.strip()
        style = block.style.name if block.style is not None else ""
        level = int(style.split()[-1]) if style.split() and style.split()[-1].isdigit() else 1
        if not text:
            continue
        if style == "Title" or style.startswith("Heading"):
            blocks.append("#" * min(level, 6) + " " + text)
        elif style.startswith("List"):
            blocks.append("  " * (level - 1) + "- " + text)
        else:
            blocks.append(text)
    return "docx", _join_blocks(blocks), document.core_properties.title or None


READERS: dict[str, Callable[[bytes, str | Path], tuple[str, str, str | None]]] = {
    ".txt": _read_plain, ".text": _read_plain,
    ".md": _read_markdown, ".markdown": _read_markdown,
    ".html": _read_html, ".htm": _read_html, ".xhtml": _read_html,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
}
