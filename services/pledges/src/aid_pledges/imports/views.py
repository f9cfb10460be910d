from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile

from aid_common.idempotency import idempotent
from aid_common.uow import UnitOfWork
from aid_pledges.deps import Admin
from aid_pledges.imports import service
from aid_pledges.imports.fts_models import ImportSummary, Uploaded

router = APIRouter(prefix="/v1/imports", tags=["imports"])
Files = Annotated[list[UploadFile], File(description="FTS flow-search pages (JSON) and requirements tables (CSV)")]


async def _uploaded(files: Files) -> Uploaded:
    digests = []
    for upload in files:
        digest = hashlib.sha256()
        while chunk := await upload.read(1 << 16):
            digest.update(chunk)
        await upload.seek(0)
        digests.append(digest.hexdigest())
    return Uploaded(names=[u.filename or "" for u in files], sha256=digests)


@router.post("/fts")
@idempotent
async def import_fts(
    files: Files, uploaded: Annotated[Uploaded, Depends(_uploaded)], uow: UnitOfWork, caller: Admin
) -> ImportSummary:
    """Import OCHA FTS files, told apart by content (any names, any order): flows become agreements keyed by FTS
    flow id (a higher version amends one, the same or a lower changes nothing), requirements tables become plans
    in the projects service. One import, one correlation id; a record that cannot be imported is skipped with its
    reason, a file that cannot be read refuses the whole import."""
    named = [(u.filename or f"file {i + 1}", u.file) for i, u in enumerate(files)]
    return await service.import_files(session=uow.session, files=named, caller=caller)
