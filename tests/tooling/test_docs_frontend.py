"""``docs/frontend.md`` stays true: its tables and examples are checked against the product.

The text table is generated (``python docs/gen_frontend_texts.py``); every other table and
every markup example is compared with what the code actually accepts, renders or blocks.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
from html import unescape
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from consentkit import CATEGORIES, Banner, BannerContext, ConfigError, Decision, Policy
from consentkit.rewriter import RewritePlan, rewrite

ROOT = Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "frontend.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
SCRIPT = (ROOT / "static" / "consentkit.js").read_text(encoding="utf-8")
STYLESHEET = (ROOT / "static" / "consentkit.css").read_text(encoding="utf-8")
I18N = ROOT / "consentkit" / "data" / "i18n"
OPTIONAL = frozenset(c for c in CATEGORIES if c != "necessary")
REGENERATE = "run `python docs/gen_frontend_texts.py` to regenerate it"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_frontend_texts", ROOT / "docs" / "gen_frontend_texts.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(marker: str) -> list[list[str]]:
    """The body rows of the Markdown table right after the comment starting with *marker*."""
    start = DOC.index(f"<!-- {marker}")
    rows: list[list[str]] = []
    for line in DOC[start:].splitlines()[1:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    assert len(rows) > 2, f"no table after {marker!r}"
    return rows[2:]  # header and separator


def _code_names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _decision(granted: frozenset[str] = frozenset()) -> Decision:
    pending = frozenset() if granted else OPTIONAL
    return Decision(
        decided=bool(granted),
        granted=frozenset({"necessary", *granted}),  # type: ignore[arg-type]
        reason="recorded" if granted else "no_decision",
        pending=pending,  # type: ignore[arg-type]
    )


def _context(granted: frozenset[str] = frozenset()) -> BannerContext:
    return BannerContext(decision=_decision(granted), language="en", return_to="/page")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy(knowledge_base=False)


# -- texts -------------------------------------------------------------------------------------


def test_text_table_is_generated_from_the_english_texts() -> None:
    gen = _generator()
    expected = gen.replace_table(DOC, gen.render_table(gen.load_english()))
    assert expected == DOC, f"docs/frontend.md's text table differs from en.json: {REGENERATE}"


def test_text_table_lists_every_english_key_once() -> None:
    english = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    keys = [_code_names(row[0])[0] for row in _table("BEGIN text table")]
    assert keys == list(english), REGENERATE


def test_generator_check_mode_catches_a_stale_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gen = _generator()
    stale = tmp_path / "frontend.md"
    stale.write_text(DOC.replace("| `accept_all` | Accept all |", "| `accept_all` | Take all |"))
    monkeypatch.setattr(gen, "DOC", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert "python docs/gen_frontend_texts.py" in capsys.readouterr().err
    assert gen.main([]) == 0
    assert stale.read_text(encoding="utf-8") == DOC
    assert gen.main(["--check"]) == 0


# -- Banner options, theme, positions ----------------------------------------------------------


def test_banner_options_match_the_constructor() -> None:
    documented = {_code_names(row[0])[0]: row[1] for row in _table("Banner options")}
    params = {
        name: p
        for name, p in inspect.signature(Banner.__init__).parameters.items()
        if name != "self"
    }
    assert set(documented) == set(params)
    for name, param in params.items():
        default = param.default
        if default is inspect.Parameter.empty:
            expected = "required"
        elif isinstance(default, str):
            expected = f'`"{default}"`'
        else:
            expected = f"`{default!r}`"
        assert documented[name] == expected, name


def test_documented_bundled_languages_are_the_shipped_files() -> None:
    row = next(r for r in _table("Banner options") if r[0] == "`languages`")
    listed = re.search(r"bundled ones: `([a-z ]+)`", row[2])
    assert listed is not None
    assert listed.group(1).split() == sorted(p.stem for p in I18N.glob("*.json"))


def test_documented_templates_exist() -> None:
    row = next(r for r in _table("Banner options") if r[0] == "`loader`")
    names = [n for n in _code_names(row[2]) if n.endswith(".html")]
    assert len(names) == 7
    shipped = {p.name for p in (ROOT / "consentkit").rglob("templates/*.html")}
    assert set(names) <= shipped


def test_documented_theme_keys_are_accepted_and_others_refused(policy: Policy) -> None:
    rows = _table("Theme keys")
    for row in rows:
        key, prop, default = _code_names(row[0])[0], _code_names(row[1])[0], _code_names(row[2])[0]
        # The documented default is the stylesheet's, and is itself a valid value.
        assert f"{prop}: {default};" in STYLESHEET, key
        banner = Banner(policy, theme={key: default})
        assert f"{prop}:{default}" in banner.head_html(_context())
    with pytest.raises(ConfigError, match="unknown theme key"):
        Banner(policy, theme={"border": "red"})
    for refused in ("red;", "a{b}", "</style>", "url(http://x)", "a/b"):
        with pytest.raises(ConfigError, match="unsafe CSS value"):
            Banner(policy, theme={"bg": refused})


def test_theme_contrast_rule_as_documented(policy: Policy) -> None:
    with pytest.raises(ConfigError, match="contrast"):
        Banner(policy, theme={"fg": "#777777"})  # on the default white
    with pytest.raises(ConfigError, match="contrast"):
        Banner(policy, theme={"accent": "#ffff00"})  # under the default white text
    Banner(policy, theme={"fg": "rgb(200, 200, 200)"})  # not hex: not checked


def test_documented_positions(policy: Policy) -> None:
    positions = [_code_names(row[0])[0].strip('"') for row in _table("Positions")]
    assert positions == ["bar", "box"]
    for position in positions:
        html = Banner(policy, position=position).body_html(_context())  # type: ignore[arg-type]
        assert f"ck--{position}" in html
    with pytest.raises(ConfigError, match="position"):
        Banner(policy, position="top")  # type: ignore[arg-type]


# -- blocking markup ---------------------------------------------------------------------------

_FENCE = re.compile(r"^([ \t]*)```html\n(.*?)^[ \t]*```", re.S | re.M)
_ANNOTATION = re.compile(
    r"<!-- (blocked: ([a-z, ]+)|not blocked|output of the example above) -->\n"
)


def _examples() -> list[tuple[str, tuple[str, ...], str]]:
    """``(kind, categories, markup)`` for each annotated HTML example, in document order."""
    found = []
    for fence in _FENCE.finditer(DOC):
        indent = fence.group(1)
        body = "".join(line.removeprefix(indent) for line in fence.group(2).splitlines(True))
        note = _ANNOTATION.match(body)
        if note is None:
            # Only the form example is not markup to block.
            assert body.startswith("<form"), f"an HTML example without annotation: {body!r}"
            continue
        kind = note.group(1).split(":")[0]
        categories = tuple(re.split(r",\s*", note.group(2))) if note.group(2) else ()
        found.append((kind, categories, body[note.end() :]))
    return found


def test_the_doc_has_markup_examples() -> None:
    kinds = [kind for kind, _, _ in _examples()]
    assert kinds.count("blocked") >= 12
    assert kinds.count("not blocked") >= 3
    assert kinds.count("output of the example above") == 1


@pytest.mark.parametrize(
    ("kind", "categories", "markup"),
    [
        pytest.param(*example, id=f"{index}-{example[0]}")
        for index, example in enumerate(_examples())
        if example[0] != "output of the example above"
    ],
)
def test_markup_example_is_recognised(kind: str, categories: tuple[str, ...], markup: str) -> None:
    """A "blocked" example is blocked while any of its categories is refused, marked with
    the first refused one, and left as written once all are granted."""
    refused = rewrite(markup.encode(), RewritePlan()).decode()
    if kind == "not blocked":
        assert refused == markup
        return
    assert categories
    assert set(categories) <= OPTIONAL
    for missing in categories:
        plan = RewritePlan(granted=frozenset(categories) - {missing})
        out = rewrite(markup.encode(), plan).decode()
        assert "data-ck-blocked" in out, out
        assert f'data-ck-category="{missing}"' in out, out
    assert f'data-ck-category="{categories[0]}"' in refused, refused
    granted = rewrite(markup.encode(), RewritePlan(granted=frozenset(categories))).decode()
    assert granted == markup


def test_documented_output_is_what_the_rewriter_writes() -> None:
    examples = _examples()
    index = next(i for i, e in enumerate(examples) if e[0] == "output of the example above")
    # "The first example above": the first blocked example of the document.
    source = next(e for e in examples[:index] if e[0] == "blocked")
    assert rewrite(source[2].encode(), RewritePlan()).decode() == examples[index][2]


def test_documented_category_names() -> None:
    rows = _table("Names")
    assert [_code_names(row[0])[0] for row in rows] == list(CATEGORIES)
    for row in rows:
        category = _code_names(row[0])[0]
        for name in _code_names(row[1]):
            for spelling in (name, name.upper()):
                markup = f'<script data-consent="{spelling}" src="/x.js"></script>'
                out = rewrite(markup.encode(), RewritePlan()).decode()
                if category == "necessary":
                    assert out == markup, name
                else:
                    assert f'data-ck-category="{category}"' in out, name


@pytest.mark.parametrize("attribute", ["data-consent", "data-category", "data-cookieconsent"])
def test_documented_marking_attributes(attribute: str) -> None:
    assert f"`{attribute}`" in DOC
    out = rewrite(f'<img {attribute}="marketing" src="/p.gif">'.encode(), RewritePlan())
    assert b'data-ck-category="targeting" data-ck-blocked' in out


def test_only_the_first_marking_attribute_counts() -> None:
    markup = b'<script data-consent="necessary" data-category="marketing" src="/x.js"></script>'
    assert rewrite(markup, RewritePlan()) == markup


def test_unknown_or_empty_marking_is_the_unclassified_category() -> None:
    for value in ("frobnicate", ""):
        markup = f'<script data-consent="{value}" src="/x.js"></script>'.encode()
        assert b'data-ck-category="targeting"' in rewrite(markup, RewritePlan())
        plan = RewritePlan(unclassified_category="functionality")
        assert b'data-ck-category="functionality"' in rewrite(markup, plan)


def test_documented_hint_rels_are_blocked_for_known_trackers() -> None:
    section = DOC[DOC.index("### Known trackers") : DOC.index("### What a blocked element")]
    link_row = next(line for line in section.splitlines() if line.startswith("| `<link>`"))
    rels = [n for n in _code_names(link_row) if n not in ("<link>", "rel", "href")]
    assert len(rels) == 7
    for rel in [*rels, "PreConnect"]:
        markup = f'<link rel="{rel}" href="https://www.google-analytics.com/x">'.encode()
        assert b"data-ck-blocked" in rewrite(markup, RewritePlan()), rel
    other = b'<link rel="icon" href="https://www.google-analytics.com/x">'
    assert rewrite(other, RewritePlan()) == other


# -- browser API, Consent Mode, form contract --------------------------------------------------


def _script_api() -> set[str]:
    """Members of the object ``consentkit.js`` assigns to ``window.consentkit``."""
    body = SCRIPT[SCRIPT.index("window.consentkit = {") :]
    body = body[: body.index("\n  };")]
    return set(re.findall(r"^ {4}(?:get )?(\w+)\s*[:(]", body, re.M))


def test_browser_api_table_matches_the_script() -> None:
    documented = {
        re.sub(r"\(.*", "", n).removeprefix("consentkit.")
        for r in _table("Browser API")
        for n in _code_names(r[0])
    }
    shipped = _script_api()
    assert "allows" in shipped  # the parser finds the object
    assert documented == shipped


def test_change_event_is_dispatched_by_the_script() -> None:
    assert "**`consentkit:change`**" in DOC
    assert 'new CustomEvent("consentkit:change", { detail: decision })' in SCRIPT


def test_consent_mode_table_matches_rendered_defaults(policy: Policy) -> None:
    banner = Banner(policy)
    rows = {_code_names(r[0])[0]: _code_names(r[1]) for r in _table("Consent Mode")}
    assert list(rows) == list(CATEGORIES)

    def defaults(granted: frozenset[str]) -> dict[str, Any]:
        head = banner.head_html(_context(granted))
        found = re.search(r"data-ck-defaults='([^']+)'", head)
        assert found is not None
        return dict(json.loads(unescape(found.group(1))))

    nothing = defaults(frozenset())
    assert nothing.pop("wait_for_update") == 500
    assert {s for s, v in nothing.items() if v == "granted"} == set(rows["necessary"])
    assert set(nothing) == {s for signals in rows.values() for s in signals}
    for category in OPTIONAL:
        state = defaults(frozenset({category}))
        granted = {s for s, v in state.items() if v == "granted"}
        assert granted == set(rows["necessary"]) | set(rows[category]), category


def _service_forms() -> str:
    """The forms services add: the centre's service switches, the placeholder of a
    service, and the first layer's question about a service declared since the choice."""
    from datetime import UTC, datetime

    from consentkit.decision import choice, decide
    from consentkit.services import Service

    chat = Service("chat", "Acme Chat", "functionality", (), ("chat.example",))
    maps = Service("maps", "Acme Maps", "functionality", (), ("maps.example",))
    before, after = Policy(services=(chat,)), Policy(services=(chat, maps))
    now = datetime.now(UTC)
    stored = choice(before, frozenset({"functionality"}), action="save", now=now)
    decision = decide(stored, after, now=now)
    banner = Banner(after)
    ctx = BannerContext(decision=decision, language="en", return_to="/page")
    return (
        banner.body_html(ctx)
        + banner.preferences_fragment(ctx)
        + banner.placeholder_html(
            provider="YouTube", category="targeting", language="en", service="youtube"
        )
    )


def test_form_fields_match_the_rendered_forms(policy: Policy) -> None:
    rows = {_code_names(r[0])[0]: r[1] for r in _table("Form fields")}
    banner = Banner(policy)
    html = banner.body_html(_context()) + banner.preferences_fragment(_context())
    html += banner.placeholder_html(provider="YouTube", category="targeting", language="en")
    html += _service_forms()
    assert set(re.findall(r'\bname="([^"]+)"', html)) == set(rows)
    actions = set(re.findall(r'name="action" value="([^"]+)"', html))
    assert actions == set(_code_names(rows["action"]))
