"""Streamed exports (CSV, XML): every row, a batch at a time (aid_common.pagination.batches), through the
process's export gate (aid_common.gate), and never cut short silently — once the first bytes have left with a
200, a failure can only be told inside the file, so it ends with a mark no reader takes for data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import structlog
from fastapi.responses import StreamingResponse

log = structlog.get_logger("aid.exports")
T = TypeVar("T", str, bytes)
CSV_BREAK = "#EXPORT INTERRUPTED: this file is incomplete; see the service's log\n"
XML_BREAK = "\n<!-- EXPORT INTERRUPTED: this document is incomplete; see the service's log -->\n"


async def marked(chunks: AsyncIterator[T], mark: T) -> AsyncIterator[T]:
    """The export, or — when it fails after its first bytes — the export up to there and `mark` (an XML reader
    then fails on the unclosed document; a CSV reader sees a `#` line)."""
    try:
        async for chunk in chunks:
            yield chunk
    except Exception:
        log.exception("export.interrupted")
        yield mark


def csv_answer(lines: AsyncIterator[str], filename: str) -> StreamingResponse:
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(marked(lines, CSV_BREAK), media_type="text/csv; charset=utf-8", headers=headers)
