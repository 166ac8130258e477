"""Services: built-in ones from the knowledge base, [[services]] in the policy, lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentkit import ConfigError, CookieRule, Policy
from consentkit.services import BUILTIN_SERVICES, builtin_services

REQUIRED = {
    "google-analytics",
    "youtube",
    "meta-pixel",
    "linkedin-insight",
    "hotjar",
    "vimeo",
    "google-maps",
    "google-ads",
    "tiktok",
}


def test_every_builtin_service_is_derived_from_the_knowledge_files() -> None:
    services = {s.id: s for s in builtin_services()}
    assert set(services) == REQUIRED
    # Each one found its tracker entry (hosts); all but the map embed have cookies.
    assert all(s.domains for s in services.values())
    assert services["youtube"].category == "targeting"
    assert services["vimeo"].category == "functionality"
    assert services["google-analytics"].category == "performance"
    assert "_ga" in services["google-analytics"].cookies
    assert "_fbp" in services["meta-pixel"].cookies
    assert len(BUILTIN_SERVICES) == len(services)


def test_lookups_by_cookie_and_host() -> None:
    policy = Policy()
    assert policy.service_for_cookie("_fbp").id == "meta-pixel"  # type: ignore[union-attr]
    assert policy.service_for_cookie("_ga_ABC123").id == "google-analytics"  # type: ignore[union-attr]
    assert policy.service_for_cookie("YSC").id == "youtube"  # type: ignore[union-attr]
    assert policy.service_for_host("www.youtube-nocookie.com").id == "youtube"  # type: ignore[union-attr]
    assert policy.service_for_host("player.vimeo.com").id == "vimeo"  # type: ignore[union-attr]
    assert policy.service_for_host("example.com") is None
    # A generic name (TikTok's "sessionid") never makes a first-party cookie TikTok's.
    assert policy.service_for_cookie("sessionid") is None
    assert policy.service_for_cookie("my_own") is None


def test_no_builtin_services_without_the_knowledge_base() -> None:
    assert Policy(knowledge_base=False).service_index.services == ()


def test_declared_services_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text(
        """
[[services]]
id = "chat"
name = "Acme Chat"
category = "functionality"
cookies = ["chat_sid", "chat_*"]
domains = ["widget.acme-chat.example"]
description = "Live chat with our support team."
privacy_policy = "https://acme-chat.example/privacy"

[[services]]
id = "youtube"
name = "YouTube (no cookie)"
category = "functionality"
domains = ["youtube-nocookie.com"]
""",
        encoding="utf-8",
    )
    policy = Policy.from_toml(path)
    chat = policy.service_index.get("chat")
    assert chat is not None
    assert chat.source == "declared"
    assert chat.privacy_policy == "https://acme-chat.example/privacy"
    assert policy.service_for_cookie("chat_x") is chat
    # A service's cookies classify in its category without a [[cookies]] rule.
    assert policy.classify("chat_x").category == "functionality"
    assert policy.service_for_host("cdn.widget.acme-chat.example") is chat
    # A declared service overrides the built-in one with its id.
    youtube = policy.service_index.get("youtube")
    assert youtube is not None
    assert youtube.category == "functionality"
    assert policy.declared_service_ids("functionality") == ("chat", "youtube")


@pytest.mark.parametrize(
    ("table", "key", "fix"),
    [
        ({"id": "Bad Id", "name": "X", "category": "targeting"}, "services[0].id", "lower-case"),
        ({"id": "x", "category": "targeting"}, "services[0].name", "name ="),
        ({"id": "x", "name": "X", "category": "necessary"}, "services[0].category", "one per"),
        ({"id": "x", "name": "X", "category": "ads"}, "services[0].category", "performance"),
        ({"id": "x", "name": "X", "category": "targeting", "domains": ["a b"]}, "domains", "host"),
        ({"id": "x", "name": "X", "category": "targeting", "cookies": "c"}, "cookies", "["),
        ({"id": "x", "name": "X", "category": "targeting", "colour": 1}, "colour", "known keys"),
        (
            {"id": "x", "name": "X", "category": "targeting", "privacy_policy": "http://a"},
            "privacy_policy",
            "https",
        ),
    ],
)
def test_bad_service_tables_name_file_key_and_fix(
    tmp_path: Path, table: dict[str, object], key: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Policy.from_dict({"services": [table]}, source="consent.toml")
    assert caught.value.source == "consent.toml"
    assert key in caught.value.key
    assert fix in caught.value.fix


def test_duplicate_service_ids_are_refused() -> None:
    table = {"id": "chat", "name": "Chat", "category": "functionality"}
    with pytest.raises(ConfigError, match=r"services\[0\] and services\[1\]"):
        Policy.from_dict({"services": [table, dict(table)]}, source="consent.toml")


def test_service_cookie_contradicting_a_cookie_rule_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        Policy(
            cookies=(CookieRule(name="chat_sid", category="targeting"),),
            services=(
                {
                    "id": "chat",
                    "name": "Chat",
                    "category": "functionality",  # type: ignore[arg-type]
                    "cookies": ["chat_*"],
                },
            ),
        )
    assert "declared as targeting" in caught.value.problem
    assert caught.value.key == "services[0].cookies"
    # Agreeing declarations are fine.
    Policy(
        cookies=(CookieRule(name="chat_sid", category="functionality"),),
        services=(
            {
                "id": "chat",
                "name": "Chat",
                "category": "functionality",  # type: ignore[arg-type]
                "cookies": ["chat_sid"],
            },
        ),
    )


def test_consent_mode_is_validated() -> None:
    assert Policy().consent_mode == "basic"
    assert Policy.from_dict({"consent_mode": "advanced"}).consent_mode == "advanced"
    with pytest.raises(ConfigError) as caught:
        Policy.from_dict({"consent_mode": "full"}, source="consent.toml")
    assert caught.value.key == "consent_mode"
