"""Reading the uploaded 事项清单 files (one workbook, or one CSV per sheet) within a limit."""

from __future__ import annotations

from fastapi import UploadFile

from govloop.core.errors import BadRequest

# A 2,000-item catalogue with its windows, quotas and staff is well under 2 MB as .xlsx.
MAX_BYTES = 20 * 1024 * 1024
MAX_FILES = 6


def workbook_limit() -> int:
    return MAX_BYTES


def read_uploads(files: list[UploadFile]) -> list[tuple[str, bytes]]:
    chosen = [f for f in files if f.filename]
    if not chosen:
        raise BadRequest("请选择要导入的 .xlsx 工作簿或 CSV 文件", code="no_file")
    if len(chosen) > MAX_FILES:
        raise BadRequest(f"一次最多上传 {MAX_FILES} 个文件", code="too_many_files")
    return [(f.filename or "", f.file.read()) for f in chosen]
