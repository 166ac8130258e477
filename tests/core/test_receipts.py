"""The pure receipt model: sealing, canonical form, chain verification, minimisation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from consentkit.chain import (
    seal_anchor,
    verify_chain,
)
from consentkit.privacy import reduce_user_agent, truncate_ip
from consentkit.receipts import (
    GENESIS_HASH,
    Receipt,
    ReceiptDraft,
    canonical_bytes,
    draft_from_dict,
    from_dict,
    key_fingerprint,
    seal,
    to_dict,
)
from consentkit.stores.export import to_kantara

from ..receipt_factory import KEYS, T0, draft


def chain(
    n: int, keys: list[str] = KEYS, start_seq: int = 1, prev: str = GENESIS_HASH
) -> list[Receipt]:
    out: list[Receipt] = []
    for i in range(n):
        receipt = seal(draft(i), seq=start_seq + i, prev_hash=prev, keys=keys)
        out.append(receipt)
        prev = receipt.hash
    return out


def replace(receipt: Receipt, **changes: Any) -> Receipt:
    return dataclasses.replace(receipt, **changes)


def rehash(receipt: Receipt) -> Receipt:
    """Recompute the hash after an edit, as an attacker without the key could."""
    unsigned = replace(receipt, hash="", hmac="")
    return replace(receipt, hash=hashlib.sha256(canonical_bytes(unsigned)).hexdigest())


# --- sealing --------------------------------------------------------------------------


def test_seal_links_receipts_into_a_chain() -> None:
    receipts = chain(3)
    assert [r.seq for r in receipts] == [1, 2, 3]
    assert receipts[0].prev_hash == GENESIS_HASH
    assert receipts[1].prev_hash == receipts[0].hash
    assert receipts[2].prev_hash == receipts[1].hash
    assert len({r.receipt_id for r in receipts}) == 3
    assert all(len(r.hash) == 64 and len(r.hmac) == 64 for r in receipts)


def test_hash_covers_canonical_json_without_hash_and_hmac() -> None:
    receipt = chain(1)[0]
    data = json.loads(canonical_bytes(receipt))
    assert "hash" not in data
    assert "hmac" not in data
    assert data["seq"] == 1
    assert data["prev_hash"] == GENESIS_HASH
    assert data["key_id"] == receipt.key_id
    assert hashlib.sha256(canonical_bytes(receipt)).hexdigest() == receipt.hash
    # Canonical: sorted keys, no whitespace.
    assert (
        canonical_bytes(receipt)
        == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_canonical_bytes_do_not_depend_on_the_input_time_zone() -> None:
    plus_two = timezone(timedelta(hours=2))
    a = seal(draft(1), seq=1, prev_hash=GENESIS_HASH, keys=KEYS, receipt_id="r")
    b = seal(
        draft(1, timestamp=a.timestamp.astimezone(plus_two)),
        seq=1,
        prev_hash=GENESIS_HASH,
        keys=KEYS,
        receipt_id="r",
    )
    assert canonical_bytes(a) == canonical_bytes(b)
    assert a.hash == b.hash


def test_newest_key_signs_and_key_id_is_a_fingerprint() -> None:
    receipt = chain(1)[0]
    assert receipt.key_id == key_fingerprint(KEYS[0])
    assert receipt.key_id != key_fingerprint(KEYS[1])
    assert KEYS[0] not in receipt.key_id
    assert key_fingerprint(KEYS[0].encode()) == key_fingerprint(KEYS[0])


@pytest.mark.parametrize("keys", [[], "a-single-string", [""]])
def test_bad_keys_are_rejected(keys: Any) -> None:
    with pytest.raises(ValueError, match="key"):
        seal(draft(), seq=1, prev_hash=GENESIS_HASH, keys=keys)


def test_seq_starts_at_one() -> None:
    with pytest.raises(ValueError, match="seq"):
        seal(draft(), seq=0, prev_hash=GENESIS_HASH, keys=KEYS)


# --- verification ---------------------------------------------------------------------


def test_intact_chain_verifies() -> None:
    receipts = chain(20)
    result = verify_chain(receipts, keys=KEYS)
    assert result.ok
    assert bool(result)
    assert result.checked == 20
    assert result.last_seq == 20
    assert result.last_hash == receipts[-1].hash


def test_empty_chain_verifies() -> None:
    result = verify_chain([], keys=KEYS)
    assert result.ok
    assert result.checked == 0
    assert result.last_hash == GENESIS_HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("action", "reject_all"),
        ("granted", ("necessary",)),
        ("refused", ()),
        ("consent_id", "someone-else"),
        ("policy_revision", "2000-01"),
        ("shown_hash", "f" * 64),
        ("ip", None),
        ("timestamp", T0 - timedelta(days=1)),
        ("key_id", "0" * 16),
        ("receipt_id", "forged-id"),
    ],
)
def test_editing_any_field_breaks_the_hash(field: str, value: Any) -> None:
    receipts = chain(5)
    receipts[2] = replace(receipts[2], **{field: value})
    result = verify_chain(receipts, keys=KEYS)
    assert result.error is not None
    assert result.error.kind == "hash"
    assert result.error.seq == 3
    assert result.error.receipt_id == receipts[2].receipt_id
    assert result.checked == 2


def test_rehash_without_the_key_breaks_the_hmac() -> None:
    receipts = chain(5)
    edited = rehash(replace(receipts[1], action="accept_all"))
    receipts[1] = edited
    # The attacker also relinks the rest of the chain; the HMAC still gives it away.
    receipts[2] = rehash(replace(receipts[2], prev_hash=edited.hash))
    result = verify_chain(receipts, keys=KEYS)
    assert result.error is not None
    assert (result.error.kind, result.error.seq) == ("hmac", 2)


def test_deleted_receipt_is_a_seq_gap() -> None:
    receipts = chain(5)
    del receipts[2]
    result = verify_chain(receipts, keys=KEYS)
    assert result.error is not None
    assert (result.error.kind, result.error.seq) == ("seq", 4)
    assert "expected seq 3" in result.error.message


def test_reordered_receipts_are_reported() -> None:
    receipts = chain(5)
    receipts[1], receipts[2] = receipts[2], receipts[1]
    result = verify_chain(receipts, keys=KEYS)
    assert result.error is not None
    assert result.error.kind == "seq"
    assert result.error.receipt_id == receipts[1].receipt_id


def test_wrong_prev_hash_is_reported() -> None:
    receipts = chain(4)
    receipts[3] = replace(receipts[3], prev_hash="a" * 64)
    result = verify_chain(receipts, keys=KEYS)
    assert result.error is not None
    assert (result.error.kind, result.error.seq) == ("prev_hash", 4)


def test_forged_receipt_signed_with_another_key_is_reported() -> None:
    receipts = chain(3)
    forged = seal(draft(9), seq=4, prev_hash=receipts[-1].hash, keys=["attacker-key"])
    result = verify_chain([*receipts, forged], keys=KEYS)
    assert result.error is not None
    assert (result.error.kind, result.error.receipt_id) == ("key", forged.receipt_id)


def test_non_ascii_tampering_is_reported_not_raised() -> None:
    receipts = chain(2)
    receipts[1] = replace(receipts[1], hmac="é" * 64, prev_hash=receipts[0].hash)
    result = verify_chain(receipts, keys=KEYS)
    assert result.error is not None
    assert result.error.kind == "hmac"


def test_key_rotation_old_receipts_still_verify() -> None:
    old = chain(3, keys=[KEYS[1]])
    new = chain(2, keys=KEYS, start_seq=4, prev=old[-1].hash)
    assert {r.key_id for r in old} == {key_fingerprint(KEYS[1])}
    assert {r.key_id for r in new} == {key_fingerprint(KEYS[0])}
    assert verify_chain([*old, *new], keys=KEYS).ok
    dropped = verify_chain([*old, *new], keys=[KEYS[0]])
    assert dropped.error is not None
    assert (dropped.error.kind, dropped.error.seq) == ("key", 1)


def test_verify_streams_and_stops_at_the_first_break() -> None:
    pulled = 0

    def source() -> Iterator[Receipt]:
        nonlocal pulled
        prev = GENESIS_HASH
        for seq in range(1, 10**9):
            pulled += 1
            receipt = seal(draft(seq), seq=seq, prev_hash=prev, keys=KEYS)
            if seq == 300:
                receipt = replace(receipt, page="/edited")
            yield receipt
            prev = receipt.hash

    result = verify_chain(source(), keys=KEYS)
    assert result.error is not None
    assert result.error.seq == 300
    assert pulled == 300


def test_verify_resumes_from_a_signed_anchor() -> None:
    receipts = chain(6)
    anchor = seal_anchor(3, receipts[2].hash, created_at=T0, keys=KEYS)
    assert verify_chain(receipts[3:], keys=KEYS, start=anchor).ok
    missing = verify_chain(receipts[4:], keys=KEYS, start=anchor)
    assert missing.error is not None
    assert (missing.error.kind, missing.error.seq) == ("seq", 5)
    no_anchor = verify_chain(receipts[3:], keys=KEYS)
    assert no_anchor.error is not None
    assert no_anchor.error.kind == "seq"


@pytest.mark.parametrize("change", [{"seq": 4}, {"hash": "b" * 64}, {"hmac": "c" * 64}])
def test_forged_anchor_is_reported(change: dict[str, Any]) -> None:
    receipts = chain(6)
    anchor = dataclasses.replace(
        seal_anchor(3, receipts[2].hash, created_at=T0, keys=KEYS), **change
    )
    result = verify_chain(receipts[anchor.seq :], keys=KEYS, start=anchor)
    assert result.error is not None
    assert result.error.kind == "anchor"


# --- model and serialisation ----------------------------------------------------------


def test_dict_round_trip() -> None:
    receipt = chain(1)[0]
    data = json.loads(json.dumps(to_dict(receipt)))
    assert data["timestamp"] == "2025-03-01T12:00:00.123456Z"
    assert data["granted"] == list(receipt.granted)
    back = from_dict(data)
    assert back == receipt
    assert verify_chain([back], keys=KEYS).ok
    assert draft_from_dict(to_dict(receipt.draft)) == receipt.draft


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("hash"),
        lambda d: d.update(seq="1"),
        lambda d: d.update(seq=0),
        lambda d: d.update(timestamp="not a date"),
        lambda d: d.update(timestamp="2025-01-01T00:00:00"),
        lambda d: d.update(granted="necessary"),
        lambda d: d.update(consent_id=""),
        lambda d: d.update(hmac=None),
    ],
)
def test_from_dict_rejects_bad_input(mutate: Any) -> None:
    data = to_dict(chain(1)[0])
    mutate(data)
    with pytest.raises((ValueError, TypeError)):
        from_dict(data)


def test_from_dict_rejects_non_objects() -> None:
    with pytest.raises(ValueError, match="object"):
        from_dict(["not", "a", "dict"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("page", "path"),
    [
        ("/shop?email=a@b.example#top", "/shop"),
        ("/a/b", "/a/b"),
        ("https://example.com/x?y=1", "/x"),
        ("/only#frag", "/only"),
        ("", ""),
    ],
)
def test_draft_keeps_only_the_page_path(page: str, path: str) -> None:
    assert draft(page=page).page == path


def test_draft_normalises_times_and_lists() -> None:
    paris = timezone(timedelta(hours=1))
    d = draft(
        granted=["necessary"],
        timestamp=datetime(2025, 1, 1, 13, 0, tzinfo=paris),
        expires_at=datetime(2025, 7, 1, tzinfo=UTC),
    )
    assert d.granted == ("necessary",)
    assert d.timestamp == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert d.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"timestamp": datetime(2025, 1, 1)},  # naive
        {"expires_at": "2025-01-01"},
        {"consent_id": ""},
        {"action": ""},
        {"granted": "necessary"},
        {"refused": [1, 2]},
        {"language": None},
        {"ip": 12},
    ],
)
def test_draft_rejects_bad_values(overrides: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        draft(**overrides)


def test_receipt_is_a_draft_and_gives_its_draft_back() -> None:
    d = draft(3)
    receipt = seal(d, seq=1, prev_hash=GENESIS_HASH, keys=KEYS)
    assert isinstance(receipt, ReceiptDraft)
    assert receipt.draft == d


# --- minimisation ---------------------------------------------------------------------

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.127 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME, "Chrome 126"),
        (CHROME + " Edg/125.0.2535.92", "Edge 125"),
        (CHROME + " OPR/110.0.0.0", "Opera 110"),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            "Samsung Internet 25",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox 128",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
            "Firefox 127",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
            "Chrome 126",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "Safari 17",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari 17",
        ),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bot"),
        (CHROME.replace("Chrome/", "HeadlessChrome/"), "bot"),
        ("curl/8.5.0", "bot"),
        ("", "other"),
        ("   ", "other"),
        ("Lynx/2.9.0", "other"),
        ("Chrome/" + "9" * 5000, "other"),
    ],
)
def test_reduce_user_agent(ua: str, expected: str) -> None:
    assert reduce_user_agent(ua) == expected


def test_reduce_user_agent_tolerates_non_strings() -> None:
    assert reduce_user_agent(None) == "other"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ip", "mode", "expected"),
    [
        ("203.0.113.77", "truncate", "203.0.113.0"),
        (" 198.51.100.9 ", "truncate", "198.51.100.0"),
        ("2001:db8:abcd:12:1:2:3:4", "truncate", "2001:db8:abcd::"),
        ("[2001:db8::1]", "truncate", "2001:db8::"),
        ("fe80::1%eth0", "truncate", "fe80::"),
        ("::ffff:203.0.113.7", "truncate", "203.0.113.0"),
        ("203.0.113.77", "full", "203.0.113.77"),
        ("2001:DB8::1", "full", "2001:db8::1"),
        ("203.0.113.77", "omit", None),
        ("not an ip", "truncate", None),
        ("999.1.1.1", "full", None),
        ("", "truncate", None),
    ],
)
def test_truncate_ip(ip: str, mode: Any, expected: str | None) -> None:
    assert truncate_ip(ip, mode) == expected


def test_truncate_ip_rejects_unknown_modes() -> None:
    with pytest.raises(ValueError, match="mode"):
        truncate_ip("203.0.113.1", "hash")  # type: ignore[arg-type]


# --- Kantara --------------------------------------------------------------------------


def test_kantara_receipt_shape() -> None:
    receipt = seal(draft(2), seq=1, prev_hash=GENESIS_HASH, keys=KEYS)  # a "save"
    out = to_kantara(
        receipt,
        controller={"name": "Example SA", "email": "dpo@example.com", "policy_url": "/privacy"},
    )
    json.dumps(out)  # JSON-ready
    assert out["version"] == "KI-CR-v1.1.0"
    assert out["consentReceiptID"] == receipt.receipt_id
    assert out["piiPrincipalId"] == receipt.consent_id
    assert out["consentTimestamp"] == int(receipt.timestamp.timestamp())
    assert isinstance(out["consentTimestamp"], int)
    assert out["jurisdiction"] == receipt.jurisdiction
    assert out["language"] == receipt.language
    assert out["collectionMethod"] == "banner_js"
    assert out["policyUrl"] == "/privacy"
    assert "publicKey" not in out
    assert out["piiControllers"][0]["piiController"] == "Example SA"
    purposes = out["services"][0]["purposes"]
    assert [p["purpose"] for p in purposes] == list(receipt.granted)
    assert all(p["consentType"] == "EXPLICIT" for p in purposes)
    assert out["consentkit"]["refused"] == list(receipt.refused)
    assert out["consentkit"]["hash"] == receipt.hash


def test_kantara_withdrawal_has_only_necessary_purpose() -> None:
    receipt = seal(draft(3), seq=1, prev_hash=GENESIS_HASH, keys=KEYS)  # a "withdraw"
    out = to_kantara(receipt, controller={})
    assert [p["purpose"] for p in out["services"][0]["purposes"]] == ["necessary"]
    assert out["consentkit"]["action"] == "withdraw"
    assert out["piiControllers"][0]["piiController"] == ""
