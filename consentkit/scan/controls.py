"""How the scanner recognises first-layer consent controls without knowing the site.

Three sources, tried in order by the browser driver:

1. consentkit's own banner (:data:`CONSENTKIT`), including its preferences page when the
   site shows no banner because it needs no consent;
2. the markup of common consent managers (:data:`CMP_SELECTORS`);
3. a visible button whose accessible name says "accept all" or "reject all" in English,
   German, French, Spanish, Italian or Dutch (:func:`match_button_name`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

__all__ = [
    "CMP_SELECTORS",
    "CONSENTKIT",
    "MAX_NAME_LENGTH",
    "ButtonAction",
    "CmpSelectors",
    "ConsentkitControls",
    "match_button_name",
    "normalise_name",
]

ButtonAction: TypeAlias = Literal["accept", "reject"]

MAX_NAME_LENGTH: Final = 60
"""Longer texts are paragraphs or links, not consent buttons."""


@dataclass(frozen=True, slots=True)
class ConsentkitControls:
    """Where consentkit's controls live (see ``consentkit/templates/banner.html``)."""

    root: str = "#ck-root[data-ck-prefix]"
    prefix_attribute: str = "data-ck-prefix"
    banner: str = "[data-ck-banner]"
    accept: str = "[data-ck-banner] button[value=accept_all]"
    reject: str = "[data-ck-banner] button[value=reject_all]"
    preferences_path: str = "/preferences"
    page_button: str = "main button[value={action}]"
    consent_cookie: str = "consentkit"


CONSENTKIT: Final = ConsentkitControls()


@dataclass(frozen=True, slots=True)
class CmpSelectors:
    """One consent manager's first-layer buttons, by CSS selector."""

    name: str
    accept: tuple[str, ...]
    reject: tuple[str, ...]


CMP_SELECTORS: Final[tuple[CmpSelectors, ...]] = (
    CmpSelectors("onetrust", ("#onetrust-accept-btn-handler",), ("#onetrust-reject-all-handler",)),
    CmpSelectors(
        "cookiebot",
        (
            "#CybotCookiebotDialogBodyLevelButtonLevelOptinAllowAll",
            "#CybotCookiebotDialogBodyButtonAccept",
        ),
        ("#CybotCookiebotDialogBodyButtonDecline",),
    ),
    CmpSelectors("didomi", ("#didomi-notice-agree-button",), ("#didomi-notice-disagree-button",)),
    CmpSelectors(
        "usercentrics",
        ("[data-testid=uc-accept-all-button]",),
        ("[data-testid=uc-deny-all-button]",),
    ),
    CmpSelectors(
        "quantcast",
        (".qc-cmp2-summary-buttons button[mode=primary]",),
        (".qc-cmp2-summary-buttons button[mode=secondary]",),
    ),
    CmpSelectors("trustarc", ("#truste-consent-button",), ("#truste-consent-required",)),
    CmpSelectors("cookieyes", (".cky-btn-accept",), (".cky-btn-reject",)),
    CmpSelectors("complianz", (".cmplz-accept",), (".cmplz-deny",)),
    CmpSelectors("osano", (".osano-cm-accept-all",), (".osano-cm-denyAll",)),
    CmpSelectors("iubenda", (".iubenda-cs-accept-btn",), (".iubenda-cs-reject-btn",)),
    CmpSelectors("klaro", (".cm-btn-accept-all",), (".cm-btn-decline",)),
    CmpSelectors("borlabs", ("a._brlbs-btn-accept-all",), ("a._brlbs-refuse-btn",)),
    CmpSelectors("cookie-notice", ("#cn-accept-cookie",), ("#cn-refuse-cookie",)),
    CmpSelectors("axeptio", ("#axeptio_btn_acceptAll",), ("#axeptio_btn_dismiss",)),
)  # fmt: skip
"""Consent managers' own ids and classes for their first-layer buttons."""

# Reject phrases are checked first: "continue without accepting" and "nur notwendige
# akzeptieren" contain an accept word but refuse.
_REJECT: Final = (
    # English
    "reject all", "reject", "decline all", "decline", "deny all", "deny", "refuse all",
    "refuse", "disagree", "necessary only", "only necessary", "essential only",
    "only essential", "necessary cookies only", "continue without accepting",
    "do not accept", "don't accept",
    # German
    "alle ablehnen", "ablehnen", "nur notwendige", "nur essenzielle", "nur erforderliche",
    "nicht einverstanden", "verweigern",
    # French
    "tout refuser", "refuser", "continuer sans accepter", "je refuse",
    "uniquement les cookies necessaires",
    # Spanish
    "rechazar todo", "rechazar todas", "rechazar", "solo necesarias", "denegar",
    # Italian
    "rifiuta tutti", "rifiuta tutto", "rifiuta", "solo necessari", "continua senza accettare",
    # Dutch
    "alles weigeren", "alle weigeren", "weigeren", "alleen noodzakelijke", "afwijzen",
)  # fmt: skip
_ACCEPT: Final = (
    # English
    "accept all", "accept", "allow all", "allow cookies", "agree", "i agree", "got it",
    # German
    "alle akzeptieren", "akzeptieren", "alle zulassen", "zulassen", "zustimmen",
    "einverstanden", "alle annehmen", "annehmen",
    # French
    "tout accepter", "accepter", "j'accepte", "autoriser",
    # Spanish
    "aceptar todo", "aceptar todas", "aceptar", "acepto", "permitir todas",
    # Italian
    "accetta tutti", "accetta tutto", "accetta", "accetto", "consenti",
    # Dutch
    "alles accepteren", "alle accepteren", "accepteren", "akkoord", "alles toestaan",
    "toestaan",
)  # fmt: skip


def normalise_name(name: str) -> str:
    """Lower-case, accents stripped, curly quotes straightened, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("\u2019", "'").replace("\u2018", "'").casefold()
    return " ".join(plain.split())


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    body = "|".join(re.escape(normalise_name(p)) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])")


_REJECT_RE: Final = _phrase_pattern(_REJECT)
_ACCEPT_RE: Final = _phrase_pattern(_ACCEPT)


def match_button_name(name: str) -> ButtonAction | None:
    """Whether a button's accessible name accepts or rejects, or ``None`` for neither.

    Whole words only ("acceptable use" is not "accept"); names longer than
    :data:`MAX_NAME_LENGTH` are ignored.
    """
    text = normalise_name(name)
    if not text or len(text) > MAX_NAME_LENGTH:
        return None
    if _REJECT_RE.search(text):
        return "reject"
    if _ACCEPT_RE.search(text):
        return "accept"
    return None
