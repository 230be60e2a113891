"""One self-contained HTML page per classified document, for people to read the labels in place.

The page holds its CSS inline and needs no script or external asset, so it can be mailed,
archived or opened offline as it is. On top, the document summary (categories present, clause
counts, strongest clause) and a colour legend; below, the clauses in order under their headings,
each highlighted in the colour of its most probable predicted category (none: not highlighted),
with every probability in its tooltip. All document text is HTML-escaped: a clause that reads
"<script>" shows as text.
"""
from __future__ import annotations

import hashlib
import re
from html import escape
from pathlib import Path

from privacy_clauses.io import atomic_write
from privacy_clauses.model.classify import DocumentResult

# Light backgrounds that keep black text readable; category j gets colour j (cycled if more).
PALETTE = ("#9ad0f5", "#ffcf7a", "#a8dc8c", "#f7a8a8", "#d3b8e6", "#fff08a",
           "#9fe0d2", "#f9b98e", "#c4cff5", "#e4c9a6", "#d8eb8a", "#f6b8dc")
EVIDENCE_CHARS = 160
NAME_CHARS = 60

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #111; }
.summary { border-bottom: 2px solid #ccc; margin-bottom: 1.5em; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
.legend span { display: inline-block; margin: 0 0.3em 0.3em 0; padding: 0 0.4em; border-radius: 3px; }
.none { border: 1px dashed #999; }
.heading { margin: 1.2em 0 0.4em; }
.clause { margin: 0.4em 0; padding: 0.2em 0.4em; border-radius: 3px; }
.item { margin-left: 1.5em; }
.item::before { content: "\\2022\\00a0"; }
.index { color: #777; font-size: 0.8em; margin-right: 0.4em; }
.tags { color: #333; font-size: 0.8em; font-style: italic; margin-left: 0.4em; }
"""


def report_name(document_id: str) -> str:
    """A file name for a document's report: its readable name and a hash of its whole path, so
    that documents of the same name in different folders get different reports."""
    readable = re.sub(r"[^\w.-]+", "_", Path(document_id).name)[:NAME_CHARS] or "document"
    return f"{readable}-{hashlib.sha1(document_id.encode('utf-8')).hexdigest()[:10]}.html"


def write_report(result: DocumentResult, directory: str | Path) -> Path:
    """Write the document's report into `directory` (temp file + rename); returns its path."""
    path = Path(directory) / report_name(result.document_id)
    with atomic_write(path) as f:
        f.write(render_report(result))
    return path


def render_report(result: DocumentResult) -> str:
    """The report page as a string."""
    title = result.document.title or Path(result.document_id).name or result.document_id
    colours = "\n".join(f".c{j} {{ background: {PALETTE[j % len(PALETTE)]}; }}" for j in range(len(result.labels)))
    language = next(iter(result.summary.languages), None)
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{escape(language)}">' if language else "<html>",
        '<head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}{colours}\n</style></head>",
        "<body>",
        _summary(result, title),
        "<main>",
        *_clauses(result),
        "</main>",
        "</body></html>",
        "",
    ])


def _summary(result: DocumentResult, title: str) -> str:
    summary = result.summary
    languages = ", ".join(f"{escape(code)} ({n})" for code, n in summary.languages.items()) or "none identified"
    rows = []
    for label, category in summary.categories.items():
        evidence = category.evidence
        text = evidence.text if len(evidence.text) <= EVIDENCE_CHARS else evidence.text[:EVIDENCE_CHARS] + "…"
        rows.append(f'<tr><td><span class="c{result.labels.index(label)}">{escape(label)}</span></td>'
                    f"<td>{category.clauses}</td>"
                    f'<td><a href="#clause-{evidence.segment_index}">#{evidence.segment_index}</a> '
                    f"({evidence.probability:.2f}) {escape(text)}</td></tr>")
    table = ("<table><tr><th>Category</th><th>Clauses</th><th>Strongest clause (probability)</th></tr>"
             + "".join(rows) + "</table>") if rows else "<p>No category was predicted for any clause.</p>"
    legend = "".join(f'<span class="c{j}">{escape(label)}</span>' for j, label in enumerate(result.labels))
    return "\n".join([
        '<header class="summary">',
        f"<h1>{escape(title)}</h1>",
        (f'<p class="meta">{escape(result.document_id)} · {escape(summary.format)} · '
         f"{summary.clauses} clauses · languages: {languages}</p>"),
        table,
        f'<p class="legend">Colours: {legend}<span class="none">no category</span></p>',
        "</header>",
    ])


def _clauses(result: DocumentResult) -> list[str]:
    """The clauses in order, each heading shown where the heading path changes."""
    lines: list[str] = []
    previous: tuple[str, ...] = ()
    for segment, row, predicted in zip(result.segments, result.probabilities, result.predicted):
        headings = segment.headings
        same = 0
        while same < min(len(headings), len(previous)) and headings[same] == previous[same]:
            same += 1
        for depth in range(same, len(headings)):
            level = min(depth + 2, 6)
            lines.append(f'<h{level} class="heading">{escape(headings[depth])}</h{level}>')
        previous = headings

        order = sorted(range(len(result.labels)), key=lambda j: -row[j])
        marks = [" (predicted)" if result.labels[j] in predicted else "" for j in order]
        tooltip = "\n".join(f"{result.labels[j]}: {row[j]:.3f}{mark}" for j, mark in zip(order, marks))
        top = next((j for j in order if result.labels[j] in predicted), None)
        class_names = ["clause"] + (["item"] if segment.context else []) + ([f"c{top}"] if top is not None else [])
        tags = f' <span class="tags">{escape(", ".join(predicted))}</span>' if predicted else ""
        lines.append(f'<p id="clause-{segment.segment_index}" class="{" ".join(class_names)}" '
                     f'title="{escape(tooltip)}">'
                     f'<span class="index">{segment.segment_index}</span>'
                     f'<span class="text">{escape(segment.text)}</span>{tags}</p>')
    return lines
