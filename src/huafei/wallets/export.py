"""Statement exports: CSV (UTF-8 with BOM, so spreadsheet apps read the Chinese) and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Font

from huafei.core.days import BEIJING
from huafei.core.money import Money
from huafei.wallets.service import StatementRow

HEADERS = {
    "zh": ["时间", "流水号", "类型", "关联单号", "可用变动(元)", "冻结变动(元)",
           "待结算变动(元)", "备注"],
    "en": ["Time", "Transfer", "Reason", "Reference", "Available (CNY)", "Held (CNY)",
           "Pending (CNY)", "Memo"],
}  # fmt: skip


def _cells(row: StatementRow) -> list[object]:
    return [
        row.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        row.transfer_id,
        row.reason,
        row.ref or "",
        Money(row.available_change_fen),
        Money(row.held_change_fen),
        Money(row.pending_change_fen),
        row.memo,
    ]


def statement_csv(rows: Iterable[StatementRow], *, locale: str = "zh") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS.get(locale, HEADERS["zh"]))
    for row in rows:
        writer.writerow([c.plain() if isinstance(c, Money) else c for c in _cells(row)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def statement_xlsx(rows: Iterable[StatementRow], *, owner_ref: str, locale: str = "zh") -> bytes:
    book = Workbook()
    sheet = book.active
    if sheet is None:  # pragma: no cover - a new workbook has one sheet
        sheet = book.create_sheet()
    sheet.title = "流水" if locale == "zh" else "Statement"
    sheet.append(HEADERS.get(locale, HEADERS["zh"]))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for entry in rows:
        sheet.append([c.yuan if isinstance(c, Money) else c for c in _cells(entry)])
        for column in (5, 6, 7):
            sheet.cell(row=sheet.max_row, column=column).number_format = "#,##0.00"
    for letter, width in zip("ABCDEFGH", (20, 34, 16, 22, 14, 14, 14, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    book.properties.title = f"Huafei wallet statement {owner_ref}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
