"""Decoding fetched HTML: a declared charset is used only when it fits the bytes; else the right one, or a failure."""

from __future__ import annotations

import random

import pytest

from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.page_encoding import decode_html, header_charset, meta_charset, web_codec
from tests.fixtures.crawl_server import PAGES_DIR

FRENCH = (
    '<!DOCTYPE html>\n<html lang="fr"><head><title>Crème brûlée</title></head><body><article>'
    "<h1>Crème brûlée à la française</h1><p>Cet été, nous avons préparé une crème brûlée très légère, façon "
    "grand-mère : des œufs frais, du sucre et une gousse de vanille. Le café était déjà prêt.</p>"
    "</article></body></html>"
)
LATIN1 = FRENCH.replace("œ", "oe").encode("latin-1")
ACCENTED = ("Crème brûlée", "été", "préparé", "façon", "déjà prêt")


def _even(body: bytes) -> bytes:
    return body if len(body) % 2 == 0 else body + b" "


def test_fixture_page_with_a_wrong_utf16_header_is_read_as_latin1():
    body = (PAGES_DIR / "encoding" / "latin1-declared-utf16.html").read_bytes()

    decoded = decode_html(body, "text/html; charset=utf-16")

    assert decoded.encoding == "cp1252" and decoded.source == "detected"
    assert "Cet été, j'ai affiné un modèle" in decoded.text and "Élément clé" in decoded.text
    assert decoded.rejected[0].startswith("header charset utf-16: the HTML tags in the bytes are lost")


@pytest.mark.parametrize("body", [_even(LATIN1), _even(LATIN1) + b" "], ids=["even-length", "odd-length"])
def test_latin1_bytes_declared_utf16_are_not_stored_as_cjk(body):
    decoded = decode_html(body, "text/html; charset=UTF-16")

    assert all(word in decoded.text for word in ACCENTED)
    assert not any("\u4e00" <= character <= "\u9fff" for character in decoded.text)
    assert decoded.rejected[0].startswith("header charset UTF-16: ")


def test_utf8_bytes_declared_latin1_are_read_as_utf8():
    decoded = decode_html(FRENCH.encode(), "text/html; charset=ISO-8859-1")

    assert decoded.text == FRENCH and decoded.source == "utf-8"
    assert decoded.rejected == ("header charset ISO-8859-1: the bytes are valid UTF-8 with non-ASCII text",)


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "source"),
    [
        (FRENCH.encode(), "text/html; charset=utf-8", "utf-8", "header"),
        (FRENCH.encode(), "text/html", "utf-8", "utf-8"),
        (LATIN1, "text/html; charset=iso-8859-1", "cp1252", "header"),  # browsers read latin1 as windows-1252
        (FRENCH.encode("utf-16"), "text/html", "utf-16-le", "bom"),
        (FRENCH.encode("utf-16-be"), "text/html; charset=utf-16be", "utf-16-be", "header"),
        (FRENCH.encode("utf-16-le"), "text/html; charset=utf-16", "utf-16-le", "header"),
        (FRENCH.encode("utf-8-sig"), "text/html; charset=windows-1252", "utf-8", "bom"),  # a BOM beats the header
        (LATIN1.replace(b"<head>", b'<head><meta charset="iso-8859-1">'), "text/html", "cp1252", "meta"),
        (FRENCH.encode().replace(b"<head>", b'<head><meta charset="utf-16">'), "", "utf-8", "meta"),
    ],
)
def test_declared_charsets_that_fit_are_used(body, content_type, encoding, source):
    decoded = decode_html(body, content_type)

    assert (decoded.encoding, decoded.source) == (encoding, source)
    assert decoded.text.startswith("<!DOCTYPE html>") and all(word in decoded.text for word in ACCENTED)
    assert decoded.rejected == ()


def test_meta_http_equiv_and_unknown_header_charset():
    body = LATIN1.replace(b"<head>", b'<head><meta http-equiv="Content-Type" content="text/html; charset=latin1">')

    decoded = decode_html(body, "text/html; charset=x-no-such-charset")

    assert decoded.source == "meta" and "Crème brûlée" in decoded.text
    assert decoded.rejected == ("header charset x-no-such-charset: unknown charset",)


def test_windows_1252_quotes_without_a_declaration_are_detected():
    body = FRENCH.replace("œ", "oe").replace("Cet été", "“Cet été”").encode("cp1252")

    decoded = decode_html(body, "text/html")

    assert decoded.encoding == "cp1252" and "“Cet été”" in decoded.text


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("Сегодня мы поговорим о том, как обучать большие языковые модели на одной видеокарте.", "cp1251"),  # noqa: RUF001
        ("今日は大規模言語モデルを一枚のGPUで微調整する方法について説明します。", "shift_jis"),
    ],
)
def test_undeclared_legacy_charsets_are_detected(text, codec):
    body = f"<html><body><p>{text}</p></body></html>".encode(codec)

    decoded = decode_html(body, "text/html")

    assert decoded.source == "detected" and text in decoded.text


def test_a_stray_invalid_byte_in_a_utf8_page_is_replaced_not_fatal():
    body = (FRENCH * 3).encode().replace(b"Cet", b"C\xe9t", 1)

    decoded = decode_html(body, "text/html; charset=utf-8")

    assert decoded.source == "header" and "C\ufffdt été" in decoded.text


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-16", "text/html"])
def test_bytes_that_fit_no_charset_fail_with_the_reasons(content_type):
    with pytest.raises(CrawlError) as caught:
        decode_html(random.Random(0).randbytes(4096), content_type)

    assert caught.value.kind is CrawlErrorKind.BAD_ENCODING
    assert caught.value.reason.startswith("the page's bytes fit no charset (")
    assert "utf-8: invalid byte(s)" in caught.value.reason


def test_binary_bytes_read_as_an_8bit_charset_are_refused_for_their_control_characters():
    body = b"<html><body>" + bytes(range(32)) * 20 + b"</body></html>"

    with pytest.raises(CrawlError) as caught:
        decode_html(body, "text/html; charset=windows-1252")

    assert caught.value.kind is CrawlErrorKind.BAD_ENCODING
    assert "header charset windows-1252: " in caught.value.reason and "control characters" in caught.value.reason


def test_empty_body_is_empty_text():
    assert decode_html(b"", "text/html; charset=utf-16").text == ""


def test_charset_labels():
    assert header_charset('text/html; Charset="UTF-8"') == "UTF-8"
    assert header_charset("text/html") is None
    assert meta_charset(b"<html><head><meta charset='koi8-r'>") == "koi8-r"
    assert meta_charset(b"<html><head><title>x</title>") is None
    assert web_codec("latin1") == "cp1252" and web_codec("US-ASCII") == "cp1252"
    assert web_codec("utf-16") == "utf-16-le" and web_codec("gb2312") == "gbk"
    assert web_codec("x-no-such-charset") is None
