"""Set-Cookie enforcement under fuzzed headers: nothing refused gets through, in any disguise.

Hypothesis writes ``Set-Cookie`` values from cookie names the policy or knowledge base
classify (and unknown ones), with attribute soup: odd ``Expires`` dates, ``Max-Age``
forms, repeated and misspelt attributes, stray separators, quotes and Latin-1 bytes. For
a visitor who refused everything optional, every line that leaves must set only a
necessary cookie or be the one canonical deletion; every line that leaves parses again;
enforcement and the expiry of request cookies never raise.

``CONSENTKIT_FUZZ_EXAMPLES`` raises the number of examples for a longer run.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consentkit.cookies import parse_set_cookie
from consentkit.decision import decide
from consentkit.enforcement import cookies_to_expire, enforce_set_cookies

from ..conftest import site_policy

EXAMPLES = int(os.environ.get("CONSENTKIT_FUZZ_EXAMPLES", "200"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = site_policy()
REFUSED = decide(None, POLICY, now=NOW)  # a first visit: only necessary cookies
DELETION_TAIL = "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"

names = st.one_of(
    st.sampled_from(["_ga", "_gid", "_fbp", "IDE", "_hjSessionUser_1", "lang", "sessionid"]),
    st.sampled_from(["__Host-_ga", "__Secure-_fbp", "_GA", " _fbp", "_fbp\t"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), min_size=1, max_size=12),
)
dates = st.one_of(
    st.sampled_from(
        [
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Thu, 01 Jan 1970:00:00 00:00:00 GMT",
            "01 Jan 70x 00:00:00",
            "Jan 1 00:00:00 1970abc",
            "1 Jan 1970 00:00:00:00",
            "Wed, 21 Oct 2099 07:28:00 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "-1",
            "",
        ]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40),
)
attributes = st.one_of(
    dates.map(lambda d: f"Expires={d}"),
    st.sampled_from(["0", "-1", "1", "99999999999999999999", "1e3", "", " 0", "0x"]).map(
        lambda v: f"Max-Age={v}"
    ),
    st.sampled_from(["Domain=.example.com", "Domain=", "Domain=..", "Path=/", "Path=", "Path=x"]),
    st.sampled_from(["Secure", "HttpOnly", "SameSite=None", "Partitioned", "max-age", "EXPIRES"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30),
)
values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30)


def set_cookie_line(name: str, value: str, attrs: list[str], sep: str) -> bytes:
    return (f"{name}={value}" + "".join(sep + a for a in attrs)).encode("latin-1")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# A nameless cookie's deletion:
@example(lines=[b"0;=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], spelling=b"set-cookie")
@given(
    lines=st.lists(
        st.builds(
            set_cookie_line,
            names,
            values,
            st.lists(attributes, max_size=6),
            st.sampled_from(["; ", ";", " ;", ";;", "; \t"]),
        ),
        min_size=1,
        max_size=6,
    ),
    spelling=st.sampled_from([b"set-cookie", b"Set-Cookie", b"SET-COOKIE", b"sEt-CoOkIe"]),
)
def test_nothing_refused_leaves_in_any_disguise(lines: list[bytes], spelling: bytes) -> None:
    # Other headers, one of them as long as the name, pass as they are.
    others = [(b"x-cookie-1", b"a=1"), (b"Content-Type", b"text/html")]
    raw = [*others, *((spelling, line) for line in lines)]
    result = enforce_set_cookies(
        raw, decision=REFUSED, policy=POLICY, own_cookies=frozenset(), now=NOW
    )
    assert result.headers[:2] == others
    for key, value in result.headers[2:]:
        assert key == spelling
        cookie = parse_set_cookie(value)
        assert cookie is not None, value
        if cookie.is_deletion(NOW):
            # A deletion leaves only in its one canonical form: nothing else rides along.
            # (A nameless cookie is addressed by a placeholder value: "=" alone sets nothing.)
            text = value.decode("latin-1")
            placeholder = "" if cookie.name else "deleted"
            assert text.startswith(f"{cookie.name}={placeholder}; {DELETION_TAIL}"), text
            assert cookie.value == placeholder
        else:
            assert POLICY.required_category(cookie.name) == "necessary", value


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    cookies=st.dictionaries(names, values, max_size=12),
    granted=st.frozensets(st.sampled_from(["performance", "functionality", "targeting"])),
)
def test_expiry_lists_only_refused_classified_names(
    cookies: dict[str, str], granted: frozenset[str]
) -> None:
    decision = replace(REFUSED, granted=frozenset({"necessary", *granted}))
    expired = cookies_to_expire(cookies, decision=decision, policy=POLICY, own_cookies=frozenset())
    for name in expired:
        assert name in cookies
        category = POLICY.classify(name).category
        assert category not in ("necessary", "unclassified"), name
        assert not decision.allows(category)


def test_remembered_set_cookie_parses_are_bounded_and_skip_long_values() -> None:
    from consentkit import enforcement

    policy, decision = POLICY, REFUSED
    long_line = b"_ga=" + b"x" * enforcement._PARSED_LONGEST + b"; Path=/"
    lines = [(b"set-cookie", f"c{i}=v; Path=/".encode()) for i in range(2_000)]
    enforce_set_cookies(
        [*lines, (b"set-cookie", long_line)],
        decision=decision,
        policy=policy,
        own_cookies=frozenset(),
    )
    assert 0 < len(enforcement._parsed) <= enforcement._PARSED_MAX
    assert long_line not in enforcement._parsed
    # A remembered parse gives the same answer as a fresh one.
    first = enforce_set_cookies(
        lines[-1:], decision=decision, policy=policy, own_cookies=frozenset()
    )
    again = enforce_set_cookies(
        lines[-1:], decision=decision, policy=policy, own_cookies=frozenset()
    )
    assert first == again
