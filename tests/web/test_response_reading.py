"""``read_response``: a response it lets pass is one the editor would not have changed.

The middleware builds no editor for a response ``read_response`` lets pass (most API and
asset responses), so a wrong "nothing to do" would leak a refused cookie, keep a stale
one or skip a page's rewrite. These tests hold it to the full editing path over
generated headers: names in any spelling, several ``Content-Type`` lines, cookies set,
cookies the visitor sent, every kind of visitor.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from consentkit import ConsentMiddleware
from consentkit.categories import CATEGORIES, Category
from consentkit.decision import Decision, StoredConsent, decide
from consentkit.mime import extract_mime_type
from consentkit.web.editor import Reading, ResponseEditor, read_response
from consentkit.web.request import RequestInfo

from ..conftest import SECRET, site_policy

MIDDLEWARE = ConsentMiddleware(Starlette(), policy=site_policy(), secret_key=SECRET)
RULES = MIDDLEWARE.rules
POLICY = MIDDLEWARE.policy

NAMES = {
    "content-type": (
        b"application/json",
        b"text/html",
        b"text/html; charset=utf-8",
        b"TEXT/HTML",
        b"text/html x",
        b"application/xhtml+xml",
        b"image/png",
        b"",
    ),
    "set-cookie": (b"_ga=GA1.1.1; Path=/", b"session=abc; HttpOnly", b"_fbp=fb.1; Max-Age=0"),
    "content-length": (b"17",),
    "x-content-type-options": (b"nosniff", b"NoSniff, x"),
    "content-encoding": (b"gzip", b"identity", b"x-unknown"),
    "cache-control": (b"max-age=60",),
}


def spelled(name: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([name, name.upper(), name.title()]).map(str.encode)


HEADER = st.sampled_from(sorted(NAMES)).flatmap(
    lambda name: st.tuples(spelled(name), st.sampled_from(NAMES[name]))
)
GRANTS = st.sampled_from(
    [None, frozenset(CATEGORIES), frozenset({"necessary"}), frozenset({"necessary", "performance"})]
)
SENT = st.sampled_from([b"", b"_ga=GA1.1.2.3", b"session=1", b"_ga=1; _fbp=2; session=3"])


def decision_for(granted: frozenset[Category] | None) -> Decision:
    now = datetime.now(UTC)
    if granted is None:
        return decide(None, POLICY, now=now)
    stored = StoredConsent(
        consent_id="test-0123456789abcdef",
        granted=granted,
        refused=frozenset(CATEGORIES) - granted,
        revision=POLICY.revision,
        decided_at=now,
        fingerprints={c: POLICY.fingerprint(c) for c in CATEGORIES},
    )
    return decide(stored, POLICY, now=now)


def request_for(method: str, cookies: bytes) -> RequestInfo:
    headers = [(b"host", b"example.test")] + ([(b"cookie", cookies)] if cookies else [])
    scope = {"type": "http", "method": method, "path": "/x", "headers": headers}
    return RequestInfo(scope, "consentkit")


def joined_content_type(raw: list[tuple[bytes, bytes]]) -> bytes | None:
    values = [value for name, value in raw if name.lower() == b"content-type"]
    return b", ".join(values) if values else None


@settings(max_examples=400, deadline=None)
@given(
    raw=st.lists(HEADER, max_size=6),
    status=st.sampled_from([200, 204, 206, 302, 304, 404]),
    method=st.sampled_from(["GET", "HEAD"]),
    granted=GRANTS,
    sent=SENT,
)
def test_a_response_let_pass_is_one_the_editor_leaves_alone(
    raw: list[tuple[bytes, bytes]],
    status: int,
    method: str,
    granted: frozenset[Category] | None,
    sent: bytes,
) -> None:
    request = request_for(method, sent)
    decision = decision_for(granted)
    given_headers = list(raw)
    reading = read_response(RULES, request, decision, status, raw)
    assert raw == given_headers  # read, never changed
    content_type = joined_content_type(raw)
    if reading is not None:
        assert reading.content_type == content_type
        return
    # Nothing set, no page, no sniffing: the editor's full path changes nothing either.
    assert not any(name.lower() == b"set-cookie" for name, _ in raw)
    editor = ResponseEditor(RULES, request, decision)
    assert editor.edit(list(raw), Reading(content_type, False, False)) == raw
    assert not editor.rewriting
    if content_type is None:
        nosniff = any(
            name.lower() == b"x-content-type-options" and value.lower().startswith(b"nosniff")
            for name, value in raw
        )
        assert method == "HEAD" or status in (204, 206, 304) or nosniff
    elif status not in (204, 206, 304):
        mime = extract_mime_type(content_type)
        assert mime is not None
        assert mime.essence != "text/html"


def test_each_reason_to_edit_is_read() -> None:
    accepted, refused = decision_for(frozenset(CATEGORIES)), decision_for(frozenset({"necessary"}))
    json = [(b"Content-Type", b"application/json")]
    plain = request_for("GET", b"")
    assert read_response(RULES, plain, accepted, 200, json) is None
    # A cookie set, in any spelling of the name.
    assert read_response(RULES, plain, accepted, 200, [*json, (b"SET-COOKIE", b"a=1")])
    # A page, in any spelling, and one of several Content-Type lines read together.
    page = read_response(RULES, plain, accepted, 200, [(b"CONTENT-TYPE", b"text/html")])
    assert page is not None
    assert page.is_html
    two = read_response(RULES, plain, accepted, 200, [*json, (b"content-type", b"text/html")])
    assert two is not None
    assert two.content_type == b"application/json, text/html"
    # No Content-Type: sniffed, unless the browser will not sniff.
    sniffed = read_response(RULES, plain, accepted, 200, [])
    assert sniffed is not None
    assert sniffed.sniff
    assert (
        read_response(RULES, plain, accepted, 200, [(b"X-Content-Type-Options", b"nosniff")])
        is None
    )
    # A refused cookie the visitor still sends is expired, even on a JSON answer.
    tracked = request_for("GET", b"_ga=GA1.1.2.3")
    assert read_response(RULES, tracked, accepted, 200, json) is None
    assert read_response(RULES, tracked, refused, 200, json) is not None
