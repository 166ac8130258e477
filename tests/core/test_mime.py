"""The MIME type and charset a browser reads from ``Content-Type`` (Fetch, WHATWG Encoding)."""

from __future__ import annotations

import pytest

from consentkit.mime import extract_mime_type, sniffs_as_html, split_header_value
from consentkit.rewriter import sniff_charset
from consentkit.rewriter.labels import REPLACEMENT, whatwg_codec


@pytest.mark.parametrize(
    ("value", "essence", "charset"),
    [
        ("text/html", "text/html", None),
        ("text/html, */*", "text/html", None),
        ("text/html,", "text/html", None),
        (", text/html", "text/html", None),
        ("TEXT/HTML ; charset=UTF-8", "text/html", "UTF-8"),
        ('text/html; charset="utf-8"', "text/html", "utf-8"),
        ('text/html; charset="ut\\f-8"', "text/html", "utf-8"),
        ('text/html; q="a;b,c"; charset=gbk', "text/html", "gbk"),
        ("text/html;charset=gbk, text/html", "text/html", "gbk"),
        ("text/html;charset=gbk, text/html;x=1", "text/html", "gbk"),
        ("text/html;charset=gbk, text/plain", "text/plain", None),
        ("text/plain;charset=gbk, text/html", "text/html", None),
        ("text/plain, text/html", "text/html", None),
        ("text/html, text/plain", "text/plain", None),
        ("text/html;charset=utf-8;charset=koi8-r", "text/html", "utf-8"),
        ("text/html; charset=", "text/html", None),
        ("text/html; charset", "text/html", None),
        ("text/html;charset= utf-8", "text/html", " utf-8"),
        ("\ttext/html \t", "text/html", None),
        ("application/xhtml+xml", "application/xhtml+xml", None),
        ("text/html x", None, None),
        ("text/html\x00", None, None),
        ("", None, None),
        ("*/*", None, None),
        ("text", None, None),
        ("/html", None, None),
        ("text/", None, None),
        (",", None, None),
    ],
)
def test_extract_mime_type_as_fetch_does(
    value: str, essence: str | None, charset: str | None
) -> None:
    mime = extract_mime_type(value)
    assert (mime.essence if mime else None) == essence
    assert (mime.charset if mime else None) == charset
    assert extract_mime_type(value.encode("latin-1")) == mime


@pytest.mark.parametrize(
    ("value", "pieces"),
    [
        ("a, b", ["a", "b"]),
        ("a,", ["a", ""]),
        (', "x,y" ,z', ["", '"x,y"', "z"]),
        ('a;q="1,2', ['a;q="1,2']),
        ("", [""]),
    ],
)
def test_split_on_commas_outside_quotes(value: str, pieces: list[str]) -> None:
    assert split_header_value(value) == pieces


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf-8"),
        (" UTF8\t", "utf-8"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("latin1", "cp1252"),
        ("iso-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("x-user-defined", "cp1252"),
        ("gbk", "gb18030"),
        ("gb2312", "gb18030"),
        ("big5", "big5hkscs"),
        ("shift_jis", "cp932"),
        ("euc-kr", "cp949"),
        ("iso-8859-8-i", "iso8859-8"),
        ("iso-8859-11", "cp874"),
        ("koi8-ru", "koi8-u"),
        ("macintosh", "mac-roman"),
        ("utf-16", "utf-16-le"),
        ("utf-16le", "utf-16-le"),
        ("utf-16be", "utf-16-be"),
        ("iso-2022-kr", REPLACEMENT),
        ("csiso2022kr", REPLACEMENT),
        ("hz-gb-2312", REPLACEMENT),
        ("iso-2022-cn-ext", REPLACEMENT),
        # Labels Python knows and no browser does: no label at all.
        ("utf-7", None),
        ("cp037", None),
        ("utf-32", None),
        ("utf-32le", None),
        ("utf_8", None),
        ("latin-1", None),
        ("rot13", None),
        ("base64", None),
        ("", None),
        ("no-such-label", None),
    ],
)
def test_whatwg_label_table(label: str, codec: str | None) -> None:
    assert whatwg_codec(label) == codec


@pytest.mark.parametrize(
    ("header", "codec"),
    [
        ("text/html; charset=utf-7", None),
        ("text/html; charset=cp037", None),
        ("text/html; charset=utf-32", None),
        ('TEXT/HTML ; charset="Shift_JIS"', "cp932"),
        ("text/html; charset=gbk, text/html", "gb18030"),
        ("text/html; charset=utf-16", "utf-16-le"),
        ("text/html; charset=iso-2022-kr", REPLACEMENT),
        ('text/html; x="charset=koi8-r"', None),
    ],
)
def test_sniff_charset_reads_only_whatwg_labels(header: str, codec: str | None) -> None:
    assert sniff_charset(header, b"") == codec


def test_a_meta_label_no_browser_knows_is_ignored() -> None:
    assert sniff_charset(None, b'<meta charset="utf-7">') is None
    assert sniff_charset("text/html; charset=utf-32", b'<meta charset="koi8-r">') == "koi8-r"


@pytest.mark.parametrize(
    ("data", "complete", "verdict"),
    [
        (b"<!doctype html><p>", False, True),
        (b"<!DOCTYPE HTML >", False, True),
        (b" \t\r\n<HTML>", False, True),
        (b"<p>x", False, True),
        (b"<b>", False, True),
        (b"<a href=x>", False, True),
        (b"<!-- note -->", False, True),
        (b"<script src=x>", False, True),
        (b"<pre>", False, False),
        (b"<br/>", False, False),
        (b"hello <script>", False, False),
        (b"\x89PNG\r\n\x1a\n", False, False),
        (b'{"a": 1}', False, False),
        (b"", False, None),
        (b"   ", False, None),
        (b"<scr", False, None),
        (b"<html", False, None),
        (b"<html", True, False),
        (b"", True, False),
        (b" " * 600, False, False),
    ],
)
def test_sniffing_a_body_without_content_type(
    data: bytes, complete: bool, verdict: bool | None
) -> None:
    assert sniffs_as_html(data, complete=complete) is verdict
