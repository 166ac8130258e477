"""Cookie wire formats: Cookie and Set-Cookie parsing, cookie dates, rendering and expiring."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentkit.cookies import (
    MAX_ATTRIBUTE_OCTETS,
    MAX_NAME_VALUE_OCTETS,
    SetCookie,
    cookie_name_of_header,
    expire_cookie_headers,
    parse_cookie_date,
    parse_cookie_header,
    parse_cookie_pairs,
    parse_set_cookie,
    render_set_cookie,
    request_paths,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CTLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]


def must_parse(header: str | bytes) -> SetCookie:
    parsed = parse_set_cookie(header)
    assert parsed is not None, header
    return parsed


# --------------------------------------------------------------------------- Cookie header


@pytest.mark.parametrize(
    ("header", "pairs"),
    [
        ("a=1; b=2", [("a", "1"), ("b", "2")]),
        ("a=1;b=2", [("a", "1"), ("b", "2")]),
        ("  a = 1 ;\tb=2\t;; ;", [("a", "1"), ("b", "2")]),
        ("a=b=c==", [("a", "b=c==")]),
        ('q="quoted value"; r="', [("q", '"quoted value"'), ("r", '"')]),
        ('x="a;b"', [("x", '"a'), ("", 'b"')]),
        ("a=", [("a", "")]),
        ("lonely", [("", "lonely")]),
        ("=lonely", [("", "lonely")]),
        ("=", []),
        ("", []),
        (" ; ;; ", []),
        (
            "$Version=1; a b=c; (x)=1; é=ü",
            [("$Version", "1"), ("a b", "c"), ("(x)", "1"), ("é", "ü")],
        ),
        ("a=%32%33+x", [("a", "%32%33+x")]),
        ("a=\x01b\x7f", [("a", "\x01b\x7f")]),
        ("a=1; a=2; a=3", [("a", "1"), ("a", "2"), ("a", "3")]),
    ],
)
def test_parse_cookie_pairs(header: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_cookie_pairs(header) == pairs
    assert parse_cookie_pairs(header.encode("utf-8").decode("latin-1").encode("latin-1")) == [
        (n.encode().decode("latin-1"), v.encode().decode("latin-1")) for n, v in pairs
    ]


def test_first_occurrence_of_a_name_wins() -> None:
    header = "sid=specific; theme=dark; sid=general; lonely; other; =third"
    assert parse_cookie_header(header) == {"sid": "specific", "theme": "dark", "": "lonely"}


def test_cookie_header_bytes_decode_as_latin1_and_round_trip() -> None:
    raw = b"name=\xff\xfe\x80; utf=\xc3\xa9"
    cookies = parse_cookie_header(raw)
    assert cookies == {"name": "\xff\xfe\x80", "utf": "\xc3\xa9"}
    assert cookies["utf"].encode("latin-1").decode("utf-8") == "é"


def test_cookie_header_with_8kb_values() -> None:
    big = "v" * 8192
    header = f"a={big}; b=2; {'c' * 8192}"
    assert parse_cookie_header(header) == {"a": big, "b": "2", "": "c" * 8192}


@given(st.text())
def test_cookie_header_never_raises_on_text(header: str) -> None:
    pairs = parse_cookie_pairs(header)
    assert all(name or value for name, value in pairs)
    assert all(";" not in name + value for name, value in pairs)
    assert set(parse_cookie_header(header)) == {name for name, _ in pairs}


@given(st.binary())
def test_cookie_header_never_raises_on_bytes(header: bytes) -> None:
    assert parse_cookie_header(header) == parse_cookie_header(header.decode("latin-1"))


cookie_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters=";="),
    min_size=1,
    max_size=20,
)
cookie_values = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters=";"),
    max_size=40,
)


@given(st.lists(st.tuples(cookie_names, cookie_values), max_size=8))
def test_cookie_header_round_trips_browser_serialisation(pairs: list[tuple[str, str]]) -> None:
    header = "; ".join(f"{name}={value}" for name, value in pairs)
    assert parse_cookie_pairs(header) == pairs


# --------------------------------------------------------------------------- Set-Cookie


@pytest.mark.parametrize(
    "header",
    [
        "sid=abc; Domain=.Example.COM; Path=/app; Max-Age=60; Secure; HttpOnly; SameSite=Strict",
        "sid=abc;samesite=strict;httponly;secure;max-age=60;path=/app;domain=example.com",
        "sid=abc ;  PATH = /app ; DOMAIN = EXAMPLE.com ; MAX-AGE = 60 ; SECURE ; HTTPONLY ; "
        "SAMESITE = STRICT",
        "sid=abc; sEcUrE=ignored; hTtPoNlY=ignored; SameSite=sTrIcT; mAx-AgE=60; "
        'DoMaIn=example.com; pAtH=/app; Unknown=1; Version=1; Comment="x; y"',
    ],
)
def test_attributes_in_any_case_and_order(header: str) -> None:
    parsed = must_parse(header)
    assert (parsed.name, parsed.value) == ("sid", "abc")
    assert parsed.domain == "example.com"
    assert parsed.path == "/app"
    assert parsed.max_age == 60
    assert parsed.secure
    assert parsed.http_only
    assert parsed.same_site == "strict"
    assert not parsed.partitioned
    assert parsed.raw == header


@pytest.mark.parametrize(
    ("header", "name", "value"),
    [
        ("a=b", "a", "b"),
        ("  a  =  b  ", "a", "b"),
        ("\ta\t=\tb\t;\tPath=/", "a", "b"),
        ("a=b=c", "a", "b=c"),
        ("a==", "a", "="),
        ("a=", "a", ""),
        ('a="quoted"', "a", '"quoted"'),
        ('a="  spaced  "', "a", '"  spaced  "'),
        ('a="unbalanced', "a", '"unbalanced'),
        ('a="semi;colon"', "a", '"semi'),
        ("a=1, b=2", "a", "1, b=2"),
        ("a=in\tner", "a", "in\tner"),
        ("nameless", "", "nameless"),
        ("=nameless", "", "nameless"),
        ("  =  nameless  ; Path=/", "", "nameless"),
        ("a b=c d", "a b", "c d"),
        ("$Version=1", "$Version", "1"),
        ("__Host-sid=1; Path=/; Secure", "__Host-sid", "1"),
        ("__Secure-sid=1", "__Secure-sid", "1"),
        ("a=%32%33", "a", "%32%33"),
    ],
)
def test_name_and_value(header: str, name: str, value: str) -> None:
    parsed = must_parse(header)
    assert (parsed.name, parsed.value) == (name, value)
    assert cookie_name_of_header(header) == name


@pytest.mark.parametrize("header", ["", " ", "=", " = ", ";", "=; Path=/", "\t;Secure"])
def test_empty_name_and_value_is_ignored(header: str) -> None:
    assert parse_set_cookie(header) is None
    assert cookie_name_of_header(header) is None


@pytest.mark.parametrize("ctl", CTLS)
@pytest.mark.parametrize("template", ["a{}b=v", "a=v{}w", "a=v; Path=/x{}", "a=v; {}Secure"])
def test_control_characters_reject_the_header(ctl: str, template: str) -> None:
    header = template.format(ctl)
    assert parse_set_cookie(header) is None
    assert parse_set_cookie(header.encode("latin-1")) is None
    assert cookie_name_of_header(header) is None


def test_size_limits() -> None:
    name = "n"
    fits = "v" * (MAX_NAME_VALUE_OCTETS - len(name))
    assert must_parse(f"{name}={fits}").value == fits
    assert parse_set_cookie(f"{name}={fits}v") is None
    assert parse_set_cookie(f"{'n' * 4097}") is None
    # Non-ASCII text counts in wire octets: two UTF-8 octets per character beyond latin-1.
    assert parse_set_cookie("a=" + "\u20ac" * 1366) is None
    long_path = "/" + "p" * MAX_ATTRIBUTE_OCTETS
    parsed = must_parse(f"a=b; Path=/kept; Path={long_path}; Domain={'d' * 1025}")
    assert parsed.path == "/kept"
    assert parsed.domain is None


@pytest.mark.parametrize(
    ("attribute", "max_age"),
    [
        ("Max-Age=10", 10),
        ("Max-Age=0", 0),
        ("Max-Age=-5", -5),
        ("Max-Age= 7 ", 7),
        ("Max-Age=007", 7),
        ("Max-Age=+5", None),
        ("Max-Age=1.5", None),
        ("Max-Age=5s", None),
        ("Max-Age=-", None),
        ("Max-Age=", None),
        ("Max-Age=\u0665", None),
        ("Max-Age=10; Max-Age=20", 20),
        ("Max-Age=10; Max-Age=bogus", 10),
        (f"Max-Age={'9' * 1000}", int("9" * 1000)),
    ],
)
def test_max_age(attribute: str, max_age: int | None) -> None:
    assert must_parse(f"a=b; {attribute}").max_age == max_age


@pytest.mark.parametrize(
    ("attributes", "expires"),
    [
        ("Expires=Wed, 21 Oct 2015 07:28:00 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
        ("expires=Wednesday, 21-Oct-15 07:28:00 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=UTC)),
        ("Expires=not a date", None),
        ("Expires=", None),
        ("Expires=Wed, 31 Feb 2015 07:28:00 GMT", None),
        (
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT; Expires=garbage",
            datetime(2015, 10, 21, 7, 28, tzinfo=UTC),
        ),
        (
            "Expires=Wed, 21 Oct 2015 07:28:00 GMT; Expires=Thu, 22 Oct 2015 07:28:00 GMT",
            datetime(2015, 10, 22, 7, 28, tzinfo=UTC),
        ),
    ],
)
def test_expires(attributes: str, expires: datetime | None) -> None:
    assert must_parse(f"a=b; {attributes}").expires == expires


@pytest.mark.parametrize(
    ("attributes", "expiry"),
    [
        ("", None),
        ("Max-Age=60", NOW + timedelta(seconds=60)),
        ("Expires=Thu, 01 Jan 2099 00:00:00 GMT", datetime(2099, 1, 1, tzinfo=UTC)),
        ("Max-Age=60; Expires=Thu, 01 Jan 2099 00:00:00 GMT", NOW + timedelta(seconds=60)),
        ("Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=60", NOW + timedelta(seconds=60)),
        ("Max-Age=0; Expires=Thu, 01 Jan 2099 00:00:00 GMT", datetime.min.replace(tzinfo=UTC)),
        ("Max-Age=-1", datetime.min.replace(tzinfo=UTC)),
        (f"Max-Age={10**30}", datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_max_age_wins_over_expires(attributes: str, expiry: datetime | None) -> None:
    assert must_parse(f"a=b; {attributes}").expiry(NOW) == expiry


@pytest.mark.parametrize(
    ("attributes", "deletes"),
    [
        ("", False),
        ("Max-Age=0", True),
        ("Max-Age=-100", True),
        ("Max-Age=1", False),
        ("Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        ("Expires=Thu, 01 Jan 2099 00:00:00 GMT", False),
        ("Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100", False),
    ],
)
def test_is_deletion(attributes: str, deletes: bool) -> None:
    assert must_parse(f"a=b; {attributes}").is_deletion(NOW) is deletes
    # Without a time given, the clock decides: these dates are long past or far ahead.
    assert must_parse(f"a=b; {attributes}").is_deletion() is deletes


@given(
    max_age=st.one_of(st.none(), st.integers(-(10**20), 10**20).map(str), st.sampled_from(["x"])),
    expires=st.one_of(
        st.none(),
        st.datetimes(min_value=datetime(1601, 1, 1), max_value=datetime(9999, 1, 1)).map(
            lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")
        ),
        st.sampled_from(["Thu, 01 Jan 70 00:00:00 GMT", "garbage", "Sun, 06 Nov 1994 08:49:37"]),
    ),
)
def test_is_deletion_answers_whether_the_expiry_has_passed(
    max_age: str | None, expires: str | None
) -> None:
    attributes = "".join(
        [f"; Max-Age={max_age}" if max_age else "", f"; Expires={expires}" if expires else ""]
    )
    cookie = must_parse(f"a=b{attributes}")
    expiry = cookie.expiry(NOW)
    ambiguous = cookie.max_age is None and cookie.expires_ambiguous
    assert cookie.is_deletion(NOW) is (not ambiguous and expiry is not None and expiry <= NOW)


@pytest.mark.parametrize(
    ("attributes", "domain"),
    [
        ("", None),
        ("Domain=example.com", "example.com"),
        ("Domain=.EXAMPLE.com", "example.com"),
        ("Domain=..example.com", ".example.com"),
        ("Domain=  .example.com  ", "example.com"),
        ("Domain=", None),
        ("Domain=.", None),
        ("Domain=a.example.com; Domain=", None),
        ("Domain=; Domain=b.example.com", "b.example.com"),
        ("Domain=a.example.com; Domain=b.example.com", "b.example.com"),
        ('Domain="example.com"', '"example.com"'),
    ],
)
def test_domain(attributes: str, domain: str | None) -> None:
    assert must_parse(f"a=b; {attributes}").domain == domain


@pytest.mark.parametrize(
    ("attributes", "path"),
    [
        ("", None),
        ("Path=/", "/"),
        ("Path=/a/b/", "/a/b/"),
        ("Path= /a ", "/a"),
        ("Path=", None),
        ("Path=relative", None),
        ("Path=/a; Path=relative", None),
        ("Path=relative; Path=/b", "/b"),
        ("Path=/A%20b", "/A%20b"),
    ],
)
def test_path(attributes: str, path: str | None) -> None:
    assert must_parse(f"a=b; {attributes}").path == path


@pytest.mark.parametrize(
    ("attributes", "same_site"),
    [
        ("", None),
        ("SameSite=Lax", "lax"),
        ("SameSite=STRICT", "strict"),
        ("samesite=none", "none"),
        ("SameSite=bogus", None),
        ("SameSite", None),
        ("SameSite=Strict; SameSite=Lax", "lax"),
        ("SameSite=Strict; SameSite=bogus", None),
    ],
)
def test_same_site(attributes: str, same_site: str | None) -> None:
    assert must_parse(f"a=b; {attributes}").same_site == same_site


def test_flags_and_unknown_attributes() -> None:
    parsed = must_parse("a=b; Partitioned; Secure=false; HttpOnly=0; Foo=bar; ; =; Priority=High")
    assert (parsed.secure, parsed.http_only, parsed.partitioned) == (True, True, True)
    assert (parsed.domain, parsed.path, parsed.max_age, parsed.expires) == (None,) * 4
    plain = must_parse("a=b; Securely; HttpOnlyish")
    assert (plain.secure, plain.http_only, plain.partitioned) == (False, False, False)


def test_set_cookie_bytes_and_non_utf8() -> None:
    parsed = must_parse(b"n\xe9=\xff\xfe; Path=/\xe9")
    assert (parsed.name, parsed.value, parsed.path) == ("n\xe9", "\xff\xfe", "/\xe9")
    assert parsed.raw.encode("latin-1") == b"n\xe9=\xff\xfe; Path=/\xe9"
    assert cookie_name_of_header(b"n\xe9=\xff\xfe") == "n\xe9"


@given(st.text())
def test_set_cookie_never_raises_on_text(header: str) -> None:
    parsed = parse_set_cookie(header)
    assert cookie_name_of_header(header) == (None if parsed is None else parsed.name)
    if parsed is not None:
        assert parsed.name == parsed.name.strip(" \t")
        assert parsed.value == parsed.value.strip(" \t")
        assert ";" not in parsed.name + parsed.value
        assert "=" not in parsed.name
        assert parsed.domain is None or parsed.domain == parsed.domain.lower()
        assert parsed.path is None or parsed.path.startswith("/")
        expiry = parsed.expiry(NOW)
        assert expiry is None or expiry.tzinfo is not None


@given(st.binary())
def test_set_cookie_never_raises_on_bytes(header: bytes) -> None:
    assert parse_set_cookie(header) == parse_set_cookie(header.decode("latin-1"))
    assert cookie_name_of_header(header) == cookie_name_of_header(header.decode("latin-1"))


attribute_soup = st.lists(
    st.sampled_from(
        [
            *("Domain", "domain", "Path", "Max-Age", "Expires", "Secure", "HttpOnly", "SameSite"),
            *("Partitioned", "=", ";", " ", "\t", '"', ".", "/", "-", "0", "1", "99", "Jan"),
            *("Thu, 01 Jan 1970 00:00:00 GMT", "example.com", "lax", "\x00", "\xe9", "\u20ac"),
        ]
    ),
    max_size=30,
).map("".join)


@given(attribute_soup, attribute_soup)
def test_set_cookie_never_raises_on_attribute_soup(head: str, tail: str) -> None:
    header = f"{head}={tail}; {tail}; {head}"
    parsed = parse_set_cookie(header)
    assert cookie_name_of_header(header) == (None if parsed is None else parsed.name)


# --------------------------------------------------------------------------- cookie dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("Sun Nov  6 08:49:37 1994", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("6 nOvEmBeR 1994 8:9:7", datetime(1994, 11, 6, 8, 9, 7, tzinfo=UTC)),
        ("1994 Nov 06 08:49:37", datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)),
        ("01 Jan 00 00:00:00", datetime(2000, 1, 1, tzinfo=UTC)),
        ("01 Jan 69 00:00:00", datetime(2069, 1, 1, tzinfo=UTC)),
        ("01 Jan 70 00:00:00", datetime(1970, 1, 1, tzinfo=UTC)),
        ("01 Jan 99 00:00:00", datetime(1999, 1, 1, tzinfo=UTC)),
        ("01 Jan 1601 00:00:00", datetime(1601, 1, 1, tzinfo=UTC)),
        ("29 Feb 2024 23:59:59", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("31 Dec 9999 23:59:59", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("01 Jan 1600 00:00:00", None),
        ("29 Feb 2023 00:00:00", None),
        ("31 Apr 2024 00:00:00", None),
        ("00 Jan 2024 00:00:00", None),
        ("32 Jan 2024 00:00:00", None),
        ("01 Jan 2024 24:00:00", None),
        ("01 Jan 2024 23:60:00", None),
        ("01 Jan 2024 23:59:60", None),
        ("01 Jan 2024", None),
        ("Jan 2024 00:00:00", None),
        ("01 2024 00:00:00", None),
        ("01 Ja 2024 00:00:00", None),
        ("01 Jan 12345 00:00:00", None),
        ("\u0661 Jan 2024 00:00:00", None),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_cookie_date(text: str, expected: datetime | None) -> None:
    assert parse_cookie_date(text) == expected


@given(st.text())
def test_parse_cookie_date_never_raises(text: str) -> None:
    parsed = parse_cookie_date(text)
    assert parsed is None or (parsed.tzinfo is UTC and parsed.year >= 1601)


@given(st.datetimes(min_value=datetime(1601, 1, 1), max_value=datetime(9999, 12, 31)))
def test_parse_cookie_date_reads_imf_fixdate(moment: datetime) -> None:
    moment = moment.replace(microsecond=0, tzinfo=UTC)
    assert parse_cookie_date(moment.strftime("%a, %d %b %Y %H:%M:%S GMT")) == moment


# --------------------------------------------------------------------------- rendering


def test_render_defaults() -> None:
    assert render_set_cookie("sid", "abc") == "sid=abc; Path=/; SameSite=Lax"


def test_render_every_attribute() -> None:
    header = render_set_cookie(
        "__Secure-sid",
        '"abc"',
        max_age=3600,
        expires=datetime(2030, 1, 2, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
        path="/app",
        domain=".Example.COM",
        secure=True,
        http_only=True,
        same_site="none",
        partitioned=True,
    )
    assert header == (
        '__Secure-sid="abc"; Domain=example.com; Path=/app; Max-Age=3600; '
        "Expires=Wed, 02 Jan 2030 02:05:06 GMT; Secure; HttpOnly; SameSite=None; Partitioned"
    )


def test_render_without_path_or_same_site() -> None:
    assert render_set_cookie("a", "", path=None, same_site=None) == "a="


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "invalid cookie name"),
        ({"name": "a b"}, "invalid cookie name"),
        ({"name": "a;b"}, "invalid cookie name"),
        ({"name": "a=b"}, "invalid cookie name"),
        ({"name": "caf\xe9"}, "invalid cookie name"),
        ({"name": "a\x00"}, "invalid cookie name"),
        ({"name": "a\n"}, "invalid cookie name"),
        ({"value": "a b"}, "invalid cookie value"),
        ({"value": 'a"b'}, "invalid cookie value"),
        ({"value": '"ab'}, "invalid cookie value"),
        ({"value": "a;b"}, "invalid cookie value"),
        ({"value": "a,b"}, "invalid cookie value"),
        ({"value": "a\\b"}, "invalid cookie value"),
        ({"value": "a\x7f"}, "invalid cookie value"),
        ({"value": "\xe9"}, "invalid cookie value"),
        ({"value": "v" * 4096}, "4097 octets"),
        ({"domain": "exa mple.com"}, "invalid cookie domain"),
        ({"domain": "example.com;x=y"}, "invalid cookie domain"),
        ({"domain": "example..com"}, "invalid cookie domain"),
        ({"domain": ""}, "invalid cookie domain"),
        ({"path": "relative"}, "invalid cookie path"),
        ({"path": "/a;b"}, "invalid cookie path"),
        ({"path": "/a\x00"}, "invalid cookie path"),
        ({"path": "/" + "p" * 1024}, "1025 octets"),
        ({"max_age": True}, "max_age must be an int"),
        ({"max_age": 1.5}, "max_age must be an int"),
        ({"expires": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"same_site": "bogus"}, "same_site must be"),
        ({"same_site": "none"}, "requires secure=True"),
        ({"partitioned": True}, "requires secure=True"),
        ({"name": "__Secure-a"}, "__Secure- prefix requires secure=True"),
        ({"name": "__secure-a"}, "__Secure- prefix requires secure=True"),
        ({"name": "__Host-a"}, "__Host- prefix requires"),
        ({"name": "__Host-a", "secure": True, "path": "/x"}, "__Host- prefix requires"),
        ({"name": "__Host-a", "secure": True, "domain": "example.com"}, "__Host- prefix requires"),
    ],
)
def test_render_rejects_what_browsers_would_drop(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "a", "value": "b", **kwargs}
    with pytest.raises(ValueError, match=message):
        render_set_cookie(**arguments)  # type: ignore[arg-type]


def test_render_accepts_valid_prefixed_cookies() -> None:
    assert (
        render_set_cookie("__Host-a", "1", secure=True)
        == "__Host-a=1; Path=/; Secure; SameSite=Lax"
    )
    assert render_set_cookie("__Secure-a", "1", secure=True, domain="example.com").startswith(
        "__Secure-a=1; Domain=example.com"
    )


tokens = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~", min_size=1)
cookie_octets = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='",;\\')
)
labels = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
paths = st.from_regex(r"/[\x20-\x3a\x3c-\x7e]{0,30}", fullmatch=True).map(str.rstrip)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@given(
    name=tokens,
    value=st.one_of(cookie_octets, cookie_octets.map(lambda v: f'"{v}"')),
    max_age=st.none() | st.integers(min_value=-(10**12), max_value=10**12),
    expires=st.none() | moments,
    path=st.none() | paths,
    domain=st.none() | domains,
    secure=st.booleans(),
    http_only=st.booleans(),
    same_site=st.sampled_from([None, "lax", "strict", "none"]),
    partitioned=st.booleans(),
)
def test_render_parse_round_trip(
    name: str,
    value: str,
    max_age: int | None,
    expires: datetime | None,
    path: str | None,
    domain: str | None,
    secure: bool,
    http_only: bool,
    same_site: str | None,
    partitioned: bool,
) -> None:
    if name.lower().startswith(("__secure-", "__host-")) or same_site == "none" or partitioned:
        secure = True
    if name.lower().startswith("__host-"):
        path, domain = "/", None
    if len(name) + len(value) > MAX_NAME_VALUE_OCTETS:
        return
    header = render_set_cookie(
        name,
        value,
        max_age=max_age,
        expires=expires,
        path=path,
        domain=domain,
        secure=secure,
        http_only=http_only,
        same_site=same_site,  # type: ignore[arg-type]
        partitioned=partitioned,
    )
    assert parse_set_cookie(header) == SetCookie(
        name=name,
        value=value,
        domain=domain,
        path=path,
        expires=expires,
        max_age=max_age,
        secure=secure,
        http_only=http_only,
        same_site=same_site,  # type: ignore[arg-type]
        partitioned=partitioned,
        raw=header,
    )


# --------------------------------------------------------------------------- request paths


@pytest.mark.parametrize(
    ("path", "candidates"),
    [
        ("/", ["/"]),
        ("", ["/"]),
        ("relative/x", ["/"]),
        ("/a", ["/", "/a"]),
        ("/a/b/c", ["/", "/a", "/a/b", "/a/b/c"]),
        ("/a/b/", ["/", "/a", "/a/b", "/a/b/"]),
        ("/a//b", ["/", "/a", "/a/", "/a//b"]),
        ("/a/b?x=/y/z", ["/", "/a", "/a/b"]),
        ("/a/b#frag/x", ["/", "/a", "/a/b"]),
        ("/f%6Fo/bar", ["/", "/f%6Fo", "/f%6Fo/bar"]),
        (b"/a/b", ["/", "/a", "/a/b"]),
    ],
)
def test_request_paths(path: str | bytes, candidates: list[str]) -> None:
    assert request_paths(path) == candidates


@given(st.text())
def test_request_paths_cover_every_cookie_sent(path: str) -> None:
    candidates = request_paths(path)
    assert candidates[0] == "/"
    assert len(candidates) == len(set(candidates))
    clean = path.partition("?")[0].partition("#")[0]
    if clean.startswith("/"):
        assert candidates[-1] == clean
        # Every default path (directory) of this path or a parent of it is a candidate.
        for index, char in enumerate(clean):
            if char == "/" and index:
                assert clean[:index] in candidates


# --------------------------------------------------------------------------- expiring


def targets(headers: list[str]) -> list[tuple[str | None, str | None]]:
    """(domain, path) of each expiring header, checking that each one really deletes."""
    found = []
    for header in headers:
        parsed = must_parse(header)
        assert parsed.is_deletion(NOW)
        assert parsed.max_age == 0
        assert parsed.expires == EPOCH
        found.append((parsed.domain, parsed.path))
    assert len(found) == len(set(found))
    return found


@pytest.mark.parametrize(
    ("host", "domains"),
    [
        ("localhost", [None]),
        ("LOCALHOST:8000", [None]),
        ("app.localhost", [None]),
        ("127.0.0.1", [None]),
        ("127.0.0.1:8443", [None]),
        ("[::1]", [None]),
        ("[::1]:8000", [None]),
        ("::1", [None]),
        ("intranet", [None]),
        ("", [None]),
        ("example.com", [None, "example.com"]),
        ("Example.COM.:443", [None, "example.com"]),
        ("www.example.com", [None, "www.example.com", "example.com"]),
        ("a.b.example.co.uk", [None, "a.b.example.co.uk", "b.example.co.uk", "example.co.uk"]),
        (
            "www.shop.example.co.uk",
            [None, "www.shop.example.co.uk", "shop.example.co.uk", "example.co.uk"],
        ),
        ("example.co.uk", [None, "example.co.uk"]),
        ("co.uk", [None]),
        ("me.github.io", [None, "me.github.io"]),
        ("shop.example.com.au", [None, "shop.example.com.au", "example.com.au"]),
        ("bad host!.com", [None]),
    ],
)
def test_expire_domains(host: str, domains: list[str | None]) -> None:
    headers = expire_cookie_headers("_ga", request_host=host)
    assert targets(headers) == [(domain, "/") for domain in domains]
    assert all(cookie_name_of_header(h) == "_ga" for h in headers)
    assert all(must_parse(h).value == "" for h in headers)


def test_expire_every_domain_and_path() -> None:
    paths = ["/", "/shop", "/shop/cart", "/shop", "relative", "/x;y"]
    headers = expire_cookie_headers("_fbp", request_host="www.example.com", paths=paths)
    assert targets(headers) == [
        (domain, path)
        for domain in (None, "www.example.com", "example.com")
        for path in ("/", "/shop", "/shop/cart")
    ]
    assert not any(must_parse(h).secure for h in headers)


def test_expire_with_explicit_domains() -> None:
    headers = expire_cookie_headers(
        "id",
        request_host="www.example.com",
        domains=[
            ".Example.com",
            None,
            "other.com",
            "com",
            "www.example.com",
            "",
            "a.www.example.com",
        ],
    )
    assert targets(headers) == [("example.com", "/"), (None, "/"), ("www.example.com", "/")]


def test_expire_secure_and_prefixes() -> None:
    secure = expire_cookie_headers("a", request_host="example.com", secure=True)
    assert all(must_parse(h).secure for h in secure)
    for name in ("__Secure-a", "__secure-a"):
        prefixed = expire_cookie_headers(name, request_host="www.example.com", paths=["/", "/x"])
        assert len(targets(prefixed)) == 6
        assert all(must_parse(h).secure for h in prefixed)
    host = expire_cookie_headers(
        "__Host-a", request_host="www.example.com", paths=["/x"], domains=["example.com"]
    )
    assert host == ["__Host-a=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure"]


def test_expire_nameless_cookie() -> None:
    headers = expire_cookie_headers("", request_host="example.com")
    assert targets(headers) == [(None, "/"), ("example.com", "/")]
    assert all(cookie_name_of_header(h) == "" for h in headers)


@pytest.mark.parametrize("name", ["a;b", "a=b", " a", "a\t", "a\x00", "a\n", "\u20ac", "n" * 4096])
def test_expire_names_no_browser_can_hold(name: str) -> None:
    assert expire_cookie_headers(name, request_host="example.com") == []


@given(
    name=st.text(max_size=20),
    host=st.text(max_size=40),
    paths=st.lists(st.text(max_size=20), max_size=4),
    domains=st.none() | st.lists(st.none() | st.text(max_size=20), max_size=4),
    secure=st.booleans(),
)
def test_expire_never_raises(
    name: str, host: str, paths: list[str], domains: list[str | None] | None, secure: bool
) -> None:
    headers = expire_cookie_headers(
        name, request_host=host, paths=paths, domains=domains, secure=secure
    )
    targets(headers)
    assert all(cookie_name_of_header(h) == name for h in headers)
