"""Receipts out of a store: CSV, NDJSON or a JSON array streamed in constant memory, and
one receipt as a Kantara Consent Receipt.

:func:`export_stream` yields byte chunks, so the CLI writes them to a file and an HTTP
endpoint can stream the very same bytes; :data:`MEDIA_TYPES` gives each format's
``Content-Type``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, Protocol, TypeAlias

from ..receipts import RECEIPT_FIELDS, Receipt, format_timestamp
from ..services import split_entries

__all__ = [
    "CSV_COLUMNS",
    "MEDIA_TYPES",
    "ExportFormat",
    "csv_safe",
    "export_stream",
    "receipt_json",
    "to_kantara",
]

ExportFormat: TypeAlias = Literal["csv", "ndjson", "json"]

CSV_COLUMNS: Final[tuple[str, ...]] = RECEIPT_FIELDS
"""Column order of the CSV export (the receipt fields, in model order)."""

MEDIA_TYPES: Final[Mapping[str, str]] = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "json": "application/json",
}
"""The ``Content-Type`` of each export format."""

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_encode: Callable[[str], str] = json.encoder.encode_basestring


class _Source(Protocol):  # what export needs of a ReceiptStore
    def iter_receipts(
        self,
        *,
        since: datetime | None = ...,
        until: datetime | None = ...,
        actions: Sequence[str] | None = ...,
        batch_size: int = ...,
    ) -> Iterator[Receipt]: ...


class _FastSource(_Source, Protocol):
    def iter_export_batches(
        self,
        fmt: Literal["json", "csv"],
        *,
        since: datetime | None = ...,
        until: datetime | None = ...,
        actions: Sequence[str] | None = ...,
        batch_size: int = ...,
    ) -> Iterator[list[Any]]: ...


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas: a cell starting with ``= + - @``, tab or CR gets ``'``."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _ts(value: datetime) -> str:
    # Stored receipts are UTC already; isoformat is several times faster than strftime.
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def _strings(values: Iterable[str]) -> str:
    return "[" + ",".join(map(_encode, values)) + "]"


def receipt_json(r: Receipt) -> str:
    """One receipt as compact JSON, equal to ``json.dumps(receipts.to_dict(r))`` once parsed.

    Hand-rolled because it runs once per row of multi-million-row exports.
    """
    ip = "null" if r.ip is None else _encode(r.ip)
    return (
        f'{{"consent_id":{_encode(r.consent_id)},"action":{_encode(r.action)},'
        f'"granted":{_strings(r.granted)},"refused":{_strings(r.refused)},'
        f'"policy_revision":{_encode(r.policy_revision)},"shown_hash":{_encode(r.shown_hash)},'
        f'"language":{_encode(r.language)},"jurisdiction":{_encode(r.jurisdiction)},'
        f'"consent_model":{_encode(r.consent_model)},"collection":{_encode(r.collection)},'
        f'"page":{_encode(r.page)},"user_agent":{_encode(r.user_agent)},"ip":{ip},'
        f'"timestamp":"{_ts(r.timestamp)}","expires_at":"{_ts(r.expires_at)}",'
        f'"receipt_id":{_encode(r.receipt_id)},"seq":{int(r.seq)},'
        f'"prev_hash":{_encode(r.prev_hash)},"hash":{_encode(r.hash)},'
        f'"hmac":{_encode(r.hmac)},"key_id":{_encode(r.key_id)}}}'
    )


def _csv_row(r: Receipt) -> list[str]:
    return [
        csv_safe(r.consent_id),
        csv_safe(r.action),
        csv_safe(" ".join(r.granted)),
        csv_safe(" ".join(r.refused)),
        csv_safe(r.policy_revision),
        csv_safe(r.shown_hash),
        csv_safe(r.language),
        csv_safe(r.jurisdiction),
        csv_safe(r.consent_model),
        csv_safe(r.collection),
        csv_safe(r.page),
        csv_safe(r.user_agent),
        "" if r.ip is None else csv_safe(r.ip),
        _ts(r.timestamp),
        _ts(r.expires_at),
        csv_safe(r.receipt_id),
        str(r.seq),
        csv_safe(r.prev_hash),
        csv_safe(r.hash),
        csv_safe(r.hmac),
        csv_safe(r.key_id),
    ]


def export_stream(
    store: _Source,
    fmt: ExportFormat | str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actions: Sequence[str] | None = None,
    batch_size: int = 1000,
    chunk_size: int = 1 << 16,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """Yield the export of the matching receipts as UTF-8 chunks of about *chunk_size* bytes.

    *fmt* is ``"csv"``, ``"ndjson"`` or ``"json"`` (anything else raises ``ValueError``).
    CSV has a header row and formula-escaped cells (categories space-separated); NDJSON has
    one receipt per line; JSON is one array, written incrementally. *progress* is called
    with the number of receipts written so far after each chunk.
    """
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unknown export format {fmt!r}: use {', '.join(MEDIA_TYPES)}")
    batches: Iterator[list[Any]]
    if hasattr(store, "iter_export_batches"):
        # SQL stores render rows themselves: several times faster than building receipts.
        fast: _FastSource = store  # type: ignore[assignment]
        kind: Literal["json", "csv"] = "csv" if fmt == "csv" else "json"
        batches = fast.iter_export_batches(
            kind, since=since, until=until, actions=actions, batch_size=batch_size
        )
    else:
        receipts = store.iter_receipts(
            since=since, until=until, actions=actions, batch_size=batch_size
        )
        batches = _batched(receipts, fmt, batch_size)
    if fmt == "csv":
        return _csv(batches, chunk_size, progress)
    return _json_lines(batches, fmt == "json", chunk_size, progress)


def _batched(receipts: Iterator[Receipt], fmt: str, size: int) -> Iterator[list[Any]]:
    render: Callable[[Receipt], Any] = _csv_row if fmt == "csv" else receipt_json
    batch: list[Any] = []
    for receipt in receipts:
        batch.append(render(receipt))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _json_lines(
    batches: Iterator[list[str]],
    as_array: bool,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[bytes]:
    separator = ",\n" if as_array else "\n"
    buffer: list[str] = ["[\n"] if as_array else []
    size = count = 0
    for batch in batches:
        if not batch:
            continue
        if count:
            buffer.append(separator)
        text = separator.join(batch)
        buffer.append(text)
        count += len(batch)
        size += len(text)
        if size >= chunk_size:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
            if progress is not None:
                progress(count)
    if as_array:
        buffer.append("\n]\n" if count else "]\n")
    elif count:
        buffer.append("\n")
    if buffer:
        yield "".join(buffer).encode("utf-8")
    if progress is not None:
        progress(count)


def _csv(
    batches: Iterator[list[Any]], chunk_size: int, progress: Callable[[int], None] | None
) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for batch in batches:
        if batch and isinstance(batch[0], str):  # whole records rendered by the database
            buffer.write("\r\n".join(batch))
            buffer.write("\r\n")
        else:
            writer.writerows(batch)
        count += len(batch)
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if progress is not None:
                progress(count)
    yield buffer.getvalue().encode("utf-8")
    if progress is not None:
        progress(count)


# --- Kantara Consent Receipt ----------------------------------------------------------

_KANTARA_PURPOSE: Final[Mapping[str, str]] = {
    "necessary": "Core Function",
    "performance": "Improved Performance",
    "functionality": "Personalized Experience",
    "targeting": "Marketing Third Parties",
}
_KANTARA_CONSENT_TYPE: Final[Mapping[str, str]] = {
    "opt_in": "EXPLICIT",
    "opt_out": "IMPLIED",
    "notice": "IMPLIED",
}


def to_kantara(receipt: Receipt, *, controller: Mapping[str, Any]) -> dict[str, Any]:
    """Render *receipt* in the shape of a Kantara Consent Receipt v1.1.

    *controller* gives ``name`` and optionally ``contact``, ``address``, ``email``,
    ``phone``, ``url``, ``on_behalf`` and ``policy_url``. Granted categories become the
    purposes of one "cookies" service, and each service granted on its own a service of
    its own; refusals (categories, then ``service:<id>`` entries) and the chain fields go
    in a ``consentkit`` extension object, since Kantara has no field for a refusal.
    """
    categories, services = split_entries(receipt.granted)
    consent_type = _KANTARA_CONSENT_TYPE.get(receipt.consent_model, "EXPLICIT")
    termination = f"Until {format_timestamp(receipt.expires_at)} or withdrawal"
    purposes = [
        {
            "purpose": category,
            "purposeCategory": [_KANTARA_PURPOSE.get(category, "Other")],
            "consentType": consent_type,
            "piiCategory": ["Online identifiers (cookies)"],
            "primaryPurpose": category == "necessary",
            "termination": termination,
            "thirdPartyDisclosure": category == "targeting",
        }
        for category in categories
    ]
    own = [
        {
            "service": service,
            "purposes": [
                {
                    "purpose": f"service {service}",
                    "purposeCategory": ["Other"],
                    "consentType": consent_type,
                    "piiCategory": ["Online identifiers (cookies)"],
                    "primaryPurpose": False,
                    "termination": termination,
                    "thirdPartyDisclosure": True,
                }
            ],
        }
        for service in services
    ]
    pii_controller: dict[str, Any] = {
        "piiController": str(controller.get("name", "")),
        "onBehalf": bool(controller.get("on_behalf", False)),
        "contact": str(controller.get("contact", "")),
        "address": str(controller.get("address", "")),
        "email": str(controller.get("email", "")),
        "phone": str(controller.get("phone", "")),
    }
    if controller.get("url"):
        pii_controller["piiControllerUrl"] = str(controller["url"])
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": receipt.jurisdiction,
        "consentTimestamp": int(receipt.timestamp.timestamp()),
        "collectionMethod": receipt.collection,
        "consentReceiptID": receipt.receipt_id,
        "language": receipt.language,
        "piiPrincipalId": receipt.consent_id,
        "piiControllers": [pii_controller],
        "policyUrl": str(controller.get("policy_url", "")),
        "services": [{"service": "cookies", "purposes": purposes}, *own],
        "sensitive": False,
        "spiCat": [],
        "consentkit": {
            "action": receipt.action,
            "refused": list(receipt.refused),
            "policyRevision": receipt.policy_revision,
            "shownHash": receipt.shown_hash,
            "consentModel": receipt.consent_model,
            "expiresAt": format_timestamp(receipt.expires_at),
            "seq": receipt.seq,
            "hash": receipt.hash,
            "hmac": receipt.hmac,
            "keyId": receipt.key_id,
        },
    }
