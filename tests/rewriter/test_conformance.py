"""The rewriter against the html5lib test vectors: byte identity and where tags are found.

The vectors are third-party data read from the shared data folder; the same features are
also covered by the hand-written tests in test_rewriter.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from consentkit.rewriter import HTMLRewriter, RewritePlan, rewrite, scan_start_tags

from ..helpers import SHARED_DATA, require_shared_data

DATA = SHARED_DATA / "html5lib-tests"
GRANT_ALL = RewritePlan(granted=frozenset({"performance", "functionality", "targeting"}))
BLOCK_ALL = RewritePlan(head_html="<x-h>", body_end_html="<x-b>")
# a start tag of one of these switches the tokenizer through the tree builder, which the
# tokenizer vectors (run without a tree builder) do not do
STATEFUL = frozenset(
    [
        "script",
        "style",
        "xmp",
        "iframe",
        "noembed",
        "noframes",
        "noscript",
        "textarea",
        "title",
        "plaintext",
        "svg",
        "math",
    ]
)


def _need(folder: str) -> Path:
    """The vector folder; a test fails naming it when it is missing (see helpers)."""
    path = DATA / folder
    require_shared_data(path)
    return path


def _unescape(text: str) -> str:
    return re.sub(r"\\u([0-9A-Fa-f]{4})", lambda m: chr(int(m.group(1), 16)), text)


def _tokenizer_vectors(path: Path) -> list[tuple[str, list[list[object]], bool]]:
    vectors = []
    groups = json.loads(path.read_text(encoding="utf-8")).values()
    for test in (test for group in groups if isinstance(group, list) for test in group):
        text = test["input"]
        output = test["output"]
        if test.get("doubleEscaped"):
            text = _unescape(text)
            output = [
                [_unescape(part) if isinstance(part, str) else part for part in token]
                for token in output
            ]
        data_state = "Data state" in test.get("initialStates", ["Data state"])
        vectors.append((text, output, data_state))
    return vectors


def _dat_documents(path: Path) -> list[str]:
    documents = []
    for section in path.read_text(encoding="utf-8").split("\n\n#data\n"):
        data, _, _ = section.removeprefix("#data\n").partition("\n#errors")
        documents.append(data)
    return documents


def _files(folder: str, pattern: str) -> list[str]:
    path = DATA / folder
    return sorted(p.name for p in path.glob(pattern)) if path.is_dir() else ["(absent)"]


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("file", _files("tokenizer", "*.test"))
def test_tokenizer_vectors(file: str) -> None:
    vectors = _tokenizer_vectors(_need("tokenizer") / file)
    assert vectors
    changed = []
    misplaced = []
    compared = 0
    for text, output, data_state in vectors:
        document = _encode(text)
        if rewrite(document, GRANT_ALL) != document:
            changed.append(text)
        expected = [str(token[1]) for token in output if token and token[0] == "StartTag"]
        if not data_state or STATEFUL.intersection(expected):
            continue
        compared += 1
        found = [
            name.decode("utf-8", "surrogatepass").replace("\x00", "\ufffd")
            for name in scan_start_tags(document)
        ]
        if found != expected:
            misplaced.append((text, found, expected))
    assert changed == []
    assert misplaced == []
    if file.startswith("test"):
        assert compared > 20, "the start-tag comparison ran on too few vectors"


@pytest.mark.parametrize("file", _files("tree-construction", "*.dat"))
def test_tree_construction_documents(file: str) -> None:
    documents = _dat_documents(_need("tree-construction") / file)
    assert documents
    for data in documents:
        document = _encode(data)
        assert rewrite(document, GRANT_ALL) == document, data
        blocked = rewrite(document, BLOCK_ALL)
        rewriter = HTMLRewriter(BLOCK_ALL)
        bytewise = b"".join(rewriter.feed(document[i : i + 1]) for i in range(len(document)))
        assert bytewise + rewriter.flush() == blocked, data
