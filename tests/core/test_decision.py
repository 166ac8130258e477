"""Consent state: the signed cookie codec and how a decision is derived."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentkit import ConsentCodec, CookieRule, Policy, StoredConsent
from consentkit.categories import CATEGORIES
from consentkit.decision import Decision, decide
from consentkit.enforcement import grants_everything

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = Policy(revision="7", cookies=(CookieRule("lang", "functionality"),))


def stored(**kw: object) -> StoredConsent:
    base: dict[str, object] = {
        "consent_id": "abcdefghijklmnop",
        "granted": frozenset({"necessary", "performance", "functionality"}),
        "refused": frozenset({"targeting"}),
        "revision": "7",
        "decided_at": NOW - timedelta(days=10),
        "fingerprints": {
            c: POLICY.fingerprint(c) for c in ("performance", "functionality", "targeting")
        },
    }
    base.update(kw)
    return StoredConsent(**base)  # type: ignore[arg-type]


def test_codec_round_trip() -> None:
    codec = ConsentCodec("k" * 32)
    value = stored()
    back = codec.loads(codec.dumps(value))
    assert back is not None
    assert back.granted == value.granted
    assert back.consent_id == value.consent_id
    assert back.decided_at == value.decided_at.replace(microsecond=0)


def test_codec_hides_its_keys() -> None:
    assert "k" * 32 not in repr(ConsentCodec("k" * 32))


@pytest.mark.parametrize("keys", [[], [""], ""])
def test_codec_needs_a_key(keys: object) -> None:
    with pytest.raises(ValueError, match="secret_key"):
        ConsentCodec(keys)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_codec_never_raises_on_garbage(token: str) -> None:
    assert ConsentCodec("k" * 32).loads(token) is None


def test_codec_rejects_wrong_shapes_even_when_signed() -> None:
    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer("k" * 32, salt="consentkit.consent.v1")
    codec = ConsentCodec("k" * 32)
    for payload in (
        {},
        [],
        {"i": "short", "g": [], "r": "7", "t": 1},
        {"i": "x" * 20, "g": ["ads"], "r": "7", "t": 1},
    ):
        assert codec.loads(serializer.dumps(payload)) is None


def test_recorded_decision() -> None:
    decision = decide(stored(), POLICY, now=NOW)
    assert decision.decided
    assert decision.reason == "recorded"
    assert decision.allows("performance")
    assert not decision.allows("targeting")
    assert decision.allows("necessary")
    assert not decision.needs_banner


def test_expired_decision_asks_again() -> None:
    decision = decide(stored(decided_at=NOW - timedelta(days=183)), POLICY, now=NOW)
    assert not decision.decided
    assert decision.reason == "expired"
    assert decision.granted == {"necessary"}
    assert decision.previous == {"necessary", "performance", "functionality"}


def test_refusal_may_have_a_shorter_lifetime() -> None:
    policy = Policy(revision="7", refusal_lifetime_days=30, cookies=POLICY.cookies)
    refusal = stored(granted=frozenset({"necessary"}), decided_at=NOW - timedelta(days=31))
    assert decide(refusal, policy, now=NOW).reason == "expired"
    consent = stored(decided_at=NOW - timedelta(days=31))
    assert decide(consent, policy, now=NOW).reason == "recorded"


def test_new_revision_asks_again() -> None:
    decision = decide(stored(revision="6"), POLICY, now=NOW)
    assert decision.reason == "new_revision"
    assert not decision.decided


def test_new_cookie_in_granted_category_asks_only_about_it() -> None:
    grown = Policy(
        revision="7",
        cookies=(CookieRule("lang", "functionality"), CookieRule("theme", "functionality")),
    )
    decision = decide(stored(), grown, now=NOW)
    assert decision.decided
    assert decision.reason == "categories_changed"
    assert decision.pending == {"functionality"}
    assert decision.allows("performance")
    assert not decision.allows("functionality")


@pytest.mark.parametrize(
    ("model", "gpc", "granted"),
    [
        ("opt_in", False, {"necessary"}),
        ("opt_in", True, {"necessary"}),
        ("opt_out", False, {"necessary", "performance", "functionality", "targeting"}),
        ("opt_out", True, {"necessary", "performance", "functionality"}),
        ("notice", False, {"necessary", "performance", "functionality", "targeting"}),
        ("notice", True, {"necessary", "performance", "functionality"}),
    ],
)
def test_defaults_by_model_and_signal(model: str, gpc: bool, granted: set[str]) -> None:
    decision = decide(None, POLICY, now=NOW, model=model, gpc=gpc)  # type: ignore[arg-type]
    assert decision.granted == granted
    assert not decision.decided
    assert decision.reason == ("gpc" if gpc else "no_decision")
    assert decision.needs_banner is (model != "notice")


def test_dnt_only_when_the_policy_honours_it() -> None:
    assert decide(None, POLICY, now=NOW, model="opt_out", dnt=True).allows("targeting")
    honours = Policy(revision="7", honor_dnt=True)
    decision = decide(None, honours, now=NOW, model="opt_out", dnt=True)
    assert not decision.allows("targeting")
    assert decision.reason == "dnt"


def test_json_view() -> None:
    view = decide(stored(), POLICY, now=NOW).as_json()
    assert view["granted"] == ["necessary", "performance", "functionality"]
    assert view["refused"] == ["targeting"]
    assert view["decided"] is True


def test_site_with_only_necessary_cookies_asks_nothing() -> None:
    policy = Policy(revision="7", cookies=(CookieRule("sessionid", "necessary"),))
    decision = decide(None, policy, now=NOW)
    assert not decision.needs_banner
    assert decision.granted == {"necessary"}
    assert decide(None, POLICY, now=NOW).needs_banner


_CATEGORY_SETS = st.frozensets(
    st.sampled_from(("necessary", "performance", "functionality", "targeting"))
)
_SERVICE_SETS = st.frozensets(st.sampled_from(("youtube", "ga4", "hotjar")), max_size=2)


@given(
    granted=_CATEGORY_SETS,
    services_granted=_SERVICE_SETS,
    services_refused=_SERVICE_SETS,
    pending_services=_SERVICE_SETS,
    replaced=_CATEGORY_SETS,
)
def test_grants_all_is_every_category_and_no_service_apart_even_after_replace(
    granted: frozenset[str],
    services_granted: frozenset[str],
    services_refused: frozenset[str],
    pending_services: frozenset[str],
    replaced: frozenset[str],
) -> None:
    def expected(decision: Decision) -> bool:
        answered = (
            decision.services_granted or decision.services_refused or decision.pending_services
        )
        return set(decision.granted) == set(CATEGORIES) and not answered

    decision = Decision(
        decided=True,
        granted=granted,  # type: ignore[arg-type]
        reason="test",  # type: ignore[arg-type]
        services_granted=services_granted,
        services_refused=services_refused,
        pending_services=pending_services,
    )
    assert decision.grants_all is expected(decision) is grants_everything(decision)
    # Worked out again for a copy, never carried over from the original.
    changed = replace(decision, granted=replaced)  # type: ignore[arg-type]
    assert changed.grants_all is expected(changed)
    assert "grants_all" not in repr(decision)
