"""Service-level consent: the cookie's compact record, the decision API, re-consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from consentkit import ConsentCodec, Policy
from consentkit.categories import CATEGORIES
from consentkit.decision import SALT, StoredConsent, choice, decide
from consentkit.enforcement import cookies_to_expire, enforce_set_cookies
from consentkit.services import Service

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
KEY = "k" * 40
CHAT = Service("chat", "Acme Chat", "functionality", ("chat_sid",), ("chat.example",))
POLICY = Policy(services=(CHAT,))


def decided(policy: Policy, stored: StoredConsent):  # type: ignore[no-untyped-def]
    codec = ConsentCodec(KEY)
    return decide(codec.loads(codec.dumps(stored)), policy, now=NOW)


def test_youtube_alone_in_a_refused_category() -> None:
    decision = decided(
        POLICY, choice(POLICY, frozenset(), action="save", now=NOW, services_granted={"youtube"})
    )
    assert decision.allows_service("youtube")
    assert not decision.allows("targeting")
    assert not decision.allows_service("meta-pixel")
    assert not decision.allows_service("tiktok")
    assert decision.services_json()["granted"] == ["youtube"]


def test_one_service_refused_in_a_granted_category() -> None:
    stored = choice(
        POLICY, frozenset({"targeting"}), action="save", now=NOW, services_refused={"meta-pixel"}
    )
    decision = decided(POLICY, stored)
    assert decision.allows("targeting")
    assert decision.allows_service("youtube")
    assert not decision.allows_service("meta-pixel")
    assert "meta-pixel" in decision.as_json()["services"]["refused"]


def test_only_deviations_are_stored() -> None:
    stored = choice(
        POLICY,
        frozenset({"targeting"}),
        action="save",
        now=NOW,
        services_granted={"youtube", "hotjar", "nonsense"},  # youtube's category is granted
        services_refused={"vimeo"},  # vimeo's category is refused anyway
    )
    assert stored.services_granted == {"hotjar"}
    assert stored.services_refused == frozenset()
    payload = stored.to_payload()
    assert payload["sg"] == ["hotjar"]
    assert "sr" not in payload


def test_unknown_service_id_raises_with_a_hint() -> None:
    decision = decide(None, POLICY, now=NOW)
    with pytest.raises(ValueError, match="youtube"):
        decision.allows_service("yotube")


def test_cookies_written_before_services_still_read() -> None:
    # The payload an older release wrote: no service keys at all.
    old = {
        "i": "abcdefgh12",
        "g": ["necessary", "targeting"],
        "x": ["performance", "functionality"],
        "r": "1",
        "t": int(NOW.timestamp()),
        "f": {c: POLICY.fingerprint(c) for c in CATEGORIES},
        "a": "save",
        "s": 0,
    }
    token = URLSafeTimedSerializer([KEY], salt=SALT).dumps(old)
    stored = ConsentCodec(KEY).loads(token)
    assert stored is not None
    assert stored.services_known is None
    decision = decide(stored, Policy(services=(CHAT,)), now=NOW)
    assert decision.allows_service("youtube")
    assert decision.pending_services == frozenset()


@pytest.mark.parametrize("bad", [["x" * 41], [1], "youtube", ["ok"] * 300])
def test_malformed_service_lists_read_as_no_decision(bad: object) -> None:
    payload = choice(POLICY, frozenset(), action="save", now=NOW).to_payload()
    payload["sg"] = bad
    token = URLSafeTimedSerializer([KEY], salt=SALT).dumps(payload)
    assert ConsentCodec(KEY).loads(token) is None


def test_a_new_service_in_a_granted_category_asks_about_that_service_only() -> None:
    stored = choice(POLICY, frozenset({"functionality", "targeting"}), action="save", now=NOW)
    later = Policy(
        services=(
            CHAT,
            Service("maps2", "Acme Maps", "functionality", (), ("maps.example",)),
            Service("ads2", "Acme Ads", "targeting", (), ("ads.example",)),
        )
    )
    decision = decided(later, stored)
    assert decision.pending_services == {"maps2", "ads2"}
    assert decision.reason == "services_changed"
    assert decision.needs_banner
    assert decision.pending == frozenset()  # the categories are not asked again
    assert decision.allows("functionality")
    assert decision.allows_service("chat")
    assert not decision.allows_service("maps2")
    # Answering grants it, and nothing is pending any more.
    again = choice(later, decision.granted, action="save", now=NOW)
    assert decided(later, again).pending_services == frozenset()
    # A new service in a refused category needs no question: it is refused with it.
    refused_before = choice(POLICY, frozenset(), action="save", now=NOW)
    assert decided(later, refused_before).pending_services == frozenset()


def test_cookie_size_with_every_service_granted_is_well_under_4kb() -> None:
    # The largest record: every known service granted on its own, every category refused,
    # with the most declared services a policy may have.
    many = tuple(
        Service(
            f"service-number-{i:02d}-abcdefghijkl", f"S{i}", "targeting", (), (f"s{i}.example",)
        )
        for i in range(64)
    )
    policy = Policy(services=many)
    ids = set(policy.service_index.ids)
    stored = choice(policy, frozenset(), action="save", now=NOW, services_granted=ids)
    token = ConsentCodec(KEY).dumps(stored)
    assert len(token) < 2500, len(token)
    decision = decide(ConsentCodec(KEY).loads(token), policy, now=NOW)
    assert all(decision.allows_service(i) for i in ids)
    # Every built-in service granted on its own stays small.
    builtin = choice(
        Policy(),
        frozenset(),
        action="save",
        now=NOW,
        services_granted=set(Policy().service_index.ids),
    )
    assert len(ConsentCodec(KEY).dumps(builtin)) < 600


def _headers(*lines: str) -> list[tuple[bytes, bytes]]:
    return [(b"set-cookie", line.encode()) for line in lines]


def test_set_cookie_of_a_refused_service_is_dropped_while_its_category_is_granted() -> None:
    policy = Policy()
    stored = choice(
        policy, frozenset({"targeting"}), action="save", now=NOW, services_refused={"meta-pixel"}
    )
    decision = decided(policy, stored)
    result = enforce_set_cookies(
        _headers("_fbp=fb.1; Path=/", "VISITOR_INFO1_LIVE=x; Path=/", "_gcl_au=1; Path=/"),
        decision=decision,
        policy=policy,
        own_cookies=frozenset(),
        now=NOW,
    )
    assert result.kept == ["VISITOR_INFO1_LIVE", "_gcl_au"]
    assert result.dropped == [("_fbp", "targeting")]
    expire = cookies_to_expire(
        {"_fbp": "1", "YSC": "2", "fr": "3"},
        decision=decision,
        policy=policy,
        own_cookies=frozenset(),
    )
    assert expire == ["_fbp", "fr"]


def test_set_cookie_of_a_granted_service_passes_in_a_refused_category() -> None:
    policy = Policy()
    decision = decided(
        policy, choice(policy, frozenset(), action="save", now=NOW, services_granted={"youtube"})
    )
    result = enforce_set_cookies(
        _headers("_fbp=fb.1", "YSC=x", "_ga=1"),
        decision=decision,
        policy=policy,
        own_cookies=frozenset(),
        now=NOW,
    )
    assert result.kept == ["YSC"]
    assert {name for name, _ in result.dropped} == {"_fbp", "_ga"}


def test_expired_choice_forgets_services() -> None:
    policy = Policy()
    stored = choice(
        policy,
        frozenset(),
        action="save",
        now=NOW - timedelta(days=400),
        services_granted={"youtube"},
    )
    assert not decide(stored, policy, now=NOW).allows_service("youtube")
