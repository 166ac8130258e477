"""The per-request decision's memos: what one request learns never decides another's."""

from __future__ import annotations

from starlette.applications import Starlette

from consentkit import ConsentCodec, ConsentMiddleware
from consentkit.categories import CATEGORIES
from consentkit.decision import choice
from consentkit.web import core as core_module
from consentkit.web.request import RequestInfo

from ..conftest import SECRET, site_policy

CHROME = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
GOOGLEBOT = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def _middleware() -> ConsentMiddleware:
    return ConsentMiddleware(Starlette(), policy=site_policy(), secret_key=SECRET)


def _request(*headers: tuple[bytes, bytes]) -> RequestInfo:
    return RequestInfo({"type": "http", "path": "/", "headers": list(headers)}, "consentkit")


def _token(middleware: ConsentMiddleware) -> bytes:
    """The ``Cookie`` header of a visitor who accepted everything on *middleware*'s site."""
    policy = middleware.policy
    stored = choice(policy, frozenset(CATEGORIES), action="accept_all")
    codec = ConsentCodec(SECRET, site=policy.site_id)
    return b"consentkit=" + codec.dumps(stored).encode()


def test_a_signal_is_never_answered_from_the_plain_memo() -> None:
    middleware = _middleware()
    first = middleware.decide(_request())
    gpc = middleware.decide(_request((b"sec-gpc", b"1")))
    again = middleware.decide(_request())
    assert (first.gpc, first.reason) == (False, again.reason)
    assert gpc.gpc
    assert gpc.reason == "gpc"
    assert gpc.granted == {"necessary"}
    assert not again.gpc
    assert again is first


def test_a_recorded_choice_is_remembered_apart_from_its_signalled_requests() -> None:
    middleware = _middleware()
    cookie = (b"cookie", _token(middleware))
    for _ in range(2):  # the second round answers from the memos
        plain = middleware.decide(_request(cookie))
        gpc = middleware.decide(_request(cookie, (b"sec-gpc", b"1")))
        assert plain.decided
        assert plain.grants_all
        assert not plain.gpc
        assert gpc.decided
        assert gpc.gpc
    assert middleware.decide(_request(cookie)) is plain


def test_crawlers_are_told_apart_per_user_agent_and_long_ones_are_not_kept() -> None:
    middleware = _middleware()
    for _ in range(2):
        assert middleware.decide(_request((b"user-agent", GOOGLEBOT))).crawler
        assert not middleware.decide(_request((b"user-agent", CHROME))).crawler
    long_bot = GOOGLEBOT + b" " + b"x" * core_module._UA_LONGEST
    assert middleware.decide(_request((b"user-agent", long_bot))).crawler
    assert long_bot not in core_module._crawler_uas
    assert GOOGLEBOT in core_module._crawler_uas


def test_a_crawler_gets_only_necessary_even_with_an_accepted_cookie() -> None:
    middleware = _middleware()
    cookie = (b"cookie", _token(middleware))
    assert middleware.decide(_request(cookie)).grants_all
    crawler = middleware.decide(_request(cookie, (b"user-agent", GOOGLEBOT)))
    assert crawler.crawler
    assert crawler.granted == {"necessary"}


def test_a_shared_cookie_reading_never_carries_one_sites_decision_to_another() -> None:
    # Requests built without a site's own memo share one reading per header; the decision
    # remembered on it belongs to the site that made it.
    ours, theirs = (
        _middleware(),
        ConsentMiddleware(
            Starlette(), policy=site_policy(), secret_key="another-secret-0123456789abcdefghij"
        ),
    )
    cookie = (b"cookie", _token(ours))
    for _ in range(2):
        assert ours.decide(_request(cookie)).grants_all
        assert not theirs.decide(_request(cookie)).decided  # not signed with its key
    assert ours.cookie_reads("consentkit") is not theirs.cookie_reads("consentkit")


def test_a_site_remembers_a_recorded_choice_on_its_own_cookie_reading() -> None:
    middleware = _middleware()
    reads = middleware.cookie_reads("consentkit")
    header = _token(middleware)
    request = RequestInfo({"type": "http", "headers": [(b"cookie", header)]}, "consentkit", reads)
    decision = middleware.decide(request)
    assert reads[header].decided is not None
    assert reads[header].decided[:2] == (middleware, decision)
