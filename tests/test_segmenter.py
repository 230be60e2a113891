"""Clause segmentation on synthetic texts shaped like real policies, and language per segment."""
from __future__ import annotations

from pathlib import Path

import pytest

from privacy_clauses.data.documents import read_document, read_text
from privacy_clauses.data.segmenter import (DEFAULT_MAX_CHARS, detect_languages, segment_document,
                                            sentence_spans)

# The real seed policies live in shared/, inside or beside the checkout, when it is there.
REPO = Path(__file__).resolve().parents[1]
SEEDS = next((p for p in (REPO / "shared" / "seeds", REPO.parent / "shared" / "seeds") if p.is_dir()), None)


def segment(text: str, **kwargs):
    document = read_text(text, "doc")
    segments = segment_document(document, **kwargs)
    check_spans(document.text, segments)
    return segments


def check_spans(text: str, segments) -> None:
    """The contract every caller relies on: text = span with whitespace runs collapsed."""
    for index, seg in enumerate(segments):
        start, end = seg.span
        assert seg.segment_index == index and seg.text
        assert " ".join(text[start:end].split()) == seg.text
        assert text[start:end] == text[start:end].strip()
    assert [s.span for s in segments] == sorted(s.span for s in segments)


def by_text(segments):
    return {s.text: s for s in segments}


NUMBERED = """Privacy Policy
Date: 2023/09/01
1. Personal data collection information
1.1 personal data
Below, we will provide you with information on how we handle personal data when you use our website.
1.2 data controller
According to Article 4(7) GDPR, the data controller is info@example.com.
2. Processing of personal data when visiting our website
When you use the website we process your personal data that is transmitted by your browser to our server:
(A) IP address
(B) Date and time of request
(C) Browser
3. Further functions and offers of our website
3.1 Overview of various offers
In addition, we also provide various services, such as registering an account or purchasing goods.
3.2 Use an external service provider
In some cases, we use external service providers to process your data.
Newsletters and other content
We provide newsletters and other content about our new services and special offers.
4. Safety
We have taken appropriate technical and organizational measures to protect your personal data.
"""


def test_numbered_sections_nest_by_their_numbering_depth():
    segs = by_text(segment(NUMBERED))
    assert segs["Below, we will provide you with information on how we handle personal data when you use our website."].headings == (
        "1. Personal data collection information", "1.1 personal data")
    assert segs["In some cases, we use external service providers to process your data."].headings == (
        "3. Further functions and offers of our website", "3.2 Use an external service provider")
    assert segs["We have taken appropriate technical and organizational measures to protect your personal data."].headings == (
        "4. Safety",)
    assert segs["Date: 2023/09/01"].headings == ("Privacy Policy",)  # "Date: ..." is a field, not a heading
    assert not any(s.text.startswith(("1.", "3.2", "Newsletters and")) for s in segs.values())


def test_lettered_items_are_segments_with_the_lead_in_as_context():
    segs = by_text(segment(NUMBERED))
    lead_in = "When you use the website we process your personal data that is transmitted by your browser to our server:"
    for item in ("IP address", "Date and time of request", "Browser"):
        assert segs[item].context == lead_in
        assert segs[item].headings == ("2. Processing of personal data when visiting our website",)
        assert segs[item].model_input == f"{lead_in}\n{item}"
    assert segs[lead_in].context is None


CAPS = """PRIVACY POLICY
This Privacy Policy explains the privacy practices of Example, Inc. for our website.
1. INFORMATION WE COLLECT
We may collect several types of information from and about users of our Services, including:
1.1. Personal Information
Personal Information is information that can be used to identify or contact an individual.
2. HOW WE USE YOUR INFORMATION
We use the information we collect for any of the following purposes:
- To provide and manage the Services;
- To respond to your inquiries;
- To send marketing communications only with your consent.

WE MAY SHARE YOUR DATA WITH THIRD PARTY SITES OR SERVICES WE DO NOT CONTROL
We do not sell or rent personal information to third parties.
"""


def test_all_caps_headings_and_dash_bullets():
    segs = by_text(segment(CAPS))
    assert segs["This Privacy Policy explains the privacy practices of Example, Inc. for our website."].headings == ("PRIVACY POLICY",)
    assert segs["Personal Information is information that can be used to identify or contact an individual."].headings == (
        "1. INFORMATION WE COLLECT", "1.1. Personal Information")
    item = segs["To respond to your inquiries;"]
    assert item.headings == ("2. HOW WE USE YOUR INFORMATION",)
    assert item.context == "We use the information we collect for any of the following purposes:"
    # long, but ALL CAPS; unnumbered headings after numbered ones nest inside them
    assert segs["We do not sell or rent personal information to third parties."].headings == (
        "2. HOW WE USE YOUR INFORMATION", "WE MAY SHARE YOUR DATA WITH THIRD PARTY SITES OR SERVICES WE DO NOT CONTROL")


LINES = """We collect, store and use the personal information that you provide to us.

The information we collect is
Your name, e-mail address, postal code and country.
Information about every transaction made on our website.

On what legal basis do we process your data
When we process your personal data, we base ourselves on one or more of these legal grounds:

Consensus: we ask your agreement to use your information.
Contractual framework: when you enter into a contract with us, we process your data.

Links to other policies
For more information, see the following links:
Facebook Privacy Policy: https://www.facebook.com/policy.php
Twitter Privacy Policy: https://twitter.com/privacy
How to cancel your registration
You can unsubscribe at any time by clicking the link in our e-mails.
Select your currency
SEK Swedish krona
"""


def test_title_like_lines_followed_by_body_are_headings():
    segs = by_text(segment(LINES))
    assert segs["Your name, e-mail address, postal code and country."].headings == ("The information we collect is",)
    assert segs["You can unsubscribe at any time by clicking the link in our e-mails."].headings == (
        "How to cancel your registration",)
    assert segs["Facebook Privacy Policy: https://www.facebook.com/policy.php"].headings == ("Links to other policies",)
    assert "Select your currency" in segs and "SEK Swedish krona" in segs  # nothing follows: not headings


def test_plain_lines_after_a_colon_paragraph_take_it_as_context_until_a_blank_line():
    segs = by_text(segment(LINES))
    grounds = "When we process your personal data, we base ourselves on one or more of these legal grounds:"
    assert segs["Consensus: we ask your agreement to use your information."].context == grounds
    assert segs["Contractual framework: when you enter into a contract with us, we process your data."].context == grounds
    links = "For more information, see the following links:"
    assert segs["Twitter Privacy Policy: https://twitter.com/privacy"].context == links
    assert segs["Your name, e-mail address, postal code and country."].context is None


NESTED = """Which personal data do we process?

The personal data we collect includes the following:

  1. Data You Provide

    1. Account Information
      When you create an account, we need details such as:
      • your e-mail address
      • a username
    2. Site Use
      We collect information about your activity on our site, including:
      • Activity history
      • Special features used, e.g.,
        • Rated a Broadcaster
        • Added a Broadcaster to your favorites
      • Method of communication
    3. Legitimate Interests
      • Chargeback prevention:

        We keep your chat logs for up to two years to handle chargebacks.

      • Customer Support & Billing Support

        Our support team works around the clock and stores your messages.

  2. Data Collected by Third Parties

    Partner ad networks help us to promote our site.
"""


def test_nested_numbered_headings_and_bullets_follow_indentation():
    segs = by_text(segment(NESTED))
    item = segs["a username"]
    assert item.headings == ("Which personal data do we process?", "1. Data You Provide", "1. Account Information")
    assert item.context == "When you create an account, we need details such as:"
    assert segs["Partner ad networks help us to promote our site."].headings == (
        "Which personal data do we process?", "2. Data Collected by Third Parties")


def test_nested_items_carry_the_chain_of_lead_ins():
    segs = by_text(segment(NESTED))
    lead_in = "We collect information about your activity on our site, including:"
    assert segs["Special features used, e.g.,"].context == lead_in
    assert segs["Rated a Broadcaster"].context == f"{lead_in} Special features used, e.g.,"
    assert segs["Method of communication"].context == lead_in


def test_paragraph_under_an_item_belongs_to_it_and_title_like_items_over_body_are_headings():
    segs = by_text(segment(NESTED))
    assert segs["We keep your chat logs for up to two years to handle chargebacks."].context == "Chargeback prevention:"
    support = segs["Our support team works around the clock and stores your messages."]
    assert support.headings[-1] == "Customer Support & Billing Support" and support.context is None
    assert "Customer Support & Billing Support" not in segs


def test_markdown_headings_nest_by_level_and_lists_of_any_marker_are_items():
    text = ("# Privacy Policy\n\n## What we collect\n\nWe collect:\n\n* your name\n+ your e-mail\n"
            "1) your phone number\n(iv) your address\n\n### Cookies ###\n\nWe use cookies.\n\n"
            "## Your rights\n\nYou may ask for a copy of your data.\n")
    segs = by_text(segment(text))
    for item in ("your name", "your e-mail", "your phone number", "your address"):
        assert segs[item].headings == ("Privacy Policy", "What we collect") and segs[item].context == "We collect:"
    assert segs["We use cookies."].headings == ("Privacy Policy", "What we collect", "Cookies")
    assert segs["You may ask for a copy of your data."].headings == ("Privacy Policy", "Your rights")


def test_numbered_list_items_are_not_headings():
    segs = segment("What we collect\nWe collect the following:\n1. Name\n2. E-mail\n3. Phone\nWe keep them for a year.\n")
    assert [s.text for s in segs] == ["We collect the following:", "Name", "E-mail", "Phone", "We keep them for a year."]
    assert segs[3].context == "We collect the following:" and segs[4].context is None


def test_wrapped_lines_join_into_one_clause():
    segs = segment("We collect your name and\nyour e-mail address when you\nregister.\nWe never sell it.\n")
    assert [s.text for s in segs] == ["We collect your name and your e-mail address when you register.", "We never sell it."]


# --- long clauses ----------------------------------------------------------------------------

def test_long_paragraphs_are_cut_at_sentence_boundaries():
    sentences = [f"Sentence number {i} explains how we process your personal data for purpose {i}." for i in range(60)]
    segs = segment("Data use\n" + " ".join(sentences) + "\n", max_chars=400)
    assert len(segs) > 1 and all(len(s.text) <= 400 for s in segs)
    assert " ".join(s.text for s in segs) == " ".join(sentences)
    assert all(s.text.endswith(".") and s.headings == ("Data use",) for s in segs)


def test_an_overlong_sentence_is_cut_between_words_and_a_huge_word_stays_whole():
    words = " ".join(f"word{i}" for i in range(400))
    url = "https://example.com/" + "x" * 300
    segs = segment(f"{words} {url} end.", max_chars=100)
    assert " ".join(s.text for s in segs) == f"{words} {url} end."
    assert all(len(s.text) <= 100 for s in segs if s.text != url) and url in {s.text for s in segs}


def test_default_max_chars_keeps_a_normal_paragraph_whole():
    paragraph = "We use cookies to remember your preferences. " * 30
    assert len(paragraph) < DEFAULT_MAX_CHARS
    assert [s.text for s in segment(paragraph)] == [paragraph.strip()]


@pytest.mark.parametrize("bad", [0, 99, 1500.0, True, "1500", None])
def test_max_chars_is_validated(bad):
    with pytest.raises(ValueError, match="max_chars must be an integer of at least 100"):
        segment_document(read_text("We collect data.", "doc"), max_chars=bad)


def test_sentence_splitter_respects_abbreviations_initials_and_lower_case():
    text = ('We use e.g. cookies. Contact J. F. Kennedy Ave. for details! Is it "safe?" Yes. '
            "Wir nutzen z.B. Cookies. See Art. 6 GDPR. version 2.0 applies. 个人信息。我们收集')")
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == ["We use e.g. cookies.", "Contact J. F. Kennedy Ave. for details!", 'Is it "safe?"',
                         "Yes.", "Wir nutzen z.B. Cookies.", "See Art. 6 GDPR. version 2.0 applies.",
                         "个人信息。", "我们收集')"]


# --- document-level properties ---------------------------------------------------------------

def test_segments_are_deterministic_and_keep_the_document_id(tmp_path):
    path = tmp_path / "policy.txt"
    path.write_text(NESTED, encoding="utf-8")
    first, second = (segment_document(read_document(path)) for _ in range(2))
    assert first == second and {s.document_id for s in first} == {str(path)}


def test_text_without_clauses_gives_no_segments():
    assert segment("----\n\n* * *\n") == []


# --- languages -------------------------------------------------------------------------------

MIXED = """Vilka personuppgifter behandlar vi?

Vi samlar in, delar, överför och lagrar olika typer av dina personuppgifter när du använder vår webbplats.

The personal data we collect includes the following information about you and your device:

      • ett användarnamn
      • ett lösenord
      • IP address
      • Date and time you logged in
      • sedda sidor

Vi använder cookies och annan teknik för att samla in information om din enhet och din aktivitet.
We use cookies and similar technologies to remember your preferences and to measure traffic.
Du kan när som helst återkalla ditt samtycke genom att kontakta vår kundtjänst.
You can withdraw your consent at any time by contacting our customer support team.
"""


def test_alternating_swedish_and_english_lines_get_their_own_language():
    segs = segment(MIXED)
    languages = {s.text: s.language for s in segs}
    for text, language in languages.items():
        if text.startswith(("Vi ", "Du ")) or text in ("ett användarnamn", "ett lösenord", "sedda sidor"):
            assert language == "sv", text
        else:
            assert language == "en", text


@pytest.mark.parametrize("language, text", [
    ("en", "We collect your e-mail address when you register for an account."),
    ("de", "Wir erheben Ihre E-Mail-Adresse, wenn Sie sich für ein Konto registrieren."),
    ("sv", "Vi samlar in din e-postadress när du registrerar dig för ett konto."),
    ("fr", "Nous collectons votre adresse e-mail lorsque vous créez un compte."),
    ("es", "Recopilamos su dirección de correo electrónico cuando se registra en una cuenta."),
])
def test_language_of_a_sentence(language, text):
    assert segment(text)[0].language == language


def test_short_and_letterless_texts_follow_the_document_languages():
    german = "Wir erheben Ihre E-Mail-Adresse, wenn Sie sich für ein Konto registrieren."
    assert detect_languages([german, german, "IP-Adresse", "Bestellnummer", "12/2024"]) == ["de", "de", "de", "de", None]


@pytest.mark.skipif(SEEDS is None, reason="shared/seeds not present")
def test_every_seed_policy_segments_with_exact_spans_headings_and_languages():
    for path in sorted(SEEDS.glob("*.txt")):
        document = read_document(path)
        segments = segment_document(document)
        check_spans(document.text, segments)
        assert len(segments) > 10, path.name
        assert any(s.headings for s in segments), path.name
        languages = {s.language for s in segments}
        assert "en" in languages, path.name
        if path.name.startswith("003_"):
            assert "sv" in languages
