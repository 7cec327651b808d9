"""Each rail's daily statement file: how the sandbox writes it and how reconciliation reads it.

* bank: GB18030 CSV as bank corporate portals export it — a title, the merchant and date line,
  a header row, one row per payout, a totals row;
* alipay: GB18030 CSV in the shape of Alipay's 账务明细 export — ``#`` comment lines around the
  header and rows, the totals in a trailing comment;
* wechat: UTF-8 CSV in the shape of WeChat Pay bills — every value prefixed with a backtick so
  spreadsheets keep long numbers as text, then a totals section;
* ecny: a pipe-delimited text file as operating institutions exchange them — ``H`` header record,
  ``D`` detail records, ``T`` trailer record with the count and total;
* carrier_wallet: UTF-8 CSV with a byte-order mark as the carriers' wallet merchant portals
  export it (代发明细) — a header row, one row per payout (the phone number masked), a totals row.

Every format carries our payout id (商户订单号), the rail's reference, the amount and the status.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from huafei.core.days import BEIJING
from huafei.core.errors import HuafeiError
from huafei.core.money import Money
from huafei.payouts.models import RailName

MERCHANT_ID = "HF0001"


class StatementFormatError(HuafeiError):
    code = "statement_unreadable"
    status = 422
    title = "The statement file is not in the rail's format"


@dataclass(frozen=True, slots=True)
class StatementEntry:
    payout_id: str
    rail_ref: str
    amount_fen: int
    status: str  # "succeeded" or "failed"
    booked_at: datetime
    account_masked: str = ""
    name_masked: str = ""
    reason: str = ""


def _fen(text: str) -> int:
    return Money.parse(text.strip().lstrip("`")).fen


def render(rail: RailName, day: date, entries: Iterable[StatementEntry]) -> bytes:
    rows = sorted(entries, key=lambda e: (e.booked_at, e.payout_id))
    return _FORMATS[rail][0](day, rows)


def parse(rail: RailName, data: bytes) -> list[StatementEntry]:
    try:
        return _FORMATS[rail][1](data)
    except StatementFormatError:
        raise
    except (ValueError, KeyError, IndexError, UnicodeDecodeError, HuafeiError) as exc:
        raise StatementFormatError(f"{rail} statement: {exc}") from None


def extension(rail: RailName) -> str:
    return "txt" if rail is RailName.ECNY else "csv"


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _local(moment: datetime) -> datetime:
    return moment.astimezone(BEIJING)


# -- bank -----------------------------------------------------------------------------------------
_BANK_HEADER = [
    "交易日期", "交易时间", "商户订单号", "银行流水号", "收款账号", "收款户名",
    "金额", "手续费", "币种", "交易状态", "失败原因",
]  # fmt: skip
_BANK_STATUS = {"succeeded": "成功", "failed": "失败"}


def _render_bank(day: date, rows: list[StatementEntry]) -> bytes:
    total = sum(e.amount_fen for e in rows if e.status == "succeeded")
    lines = [
        ["华飞代付对账单"],
        [f"商户号：{MERCHANT_ID}", f"对账日期：{day.isoformat()}"],
        _BANK_HEADER,
    ]
    for e in rows:
        at = _local(e.booked_at)
        lines.append(
            [
                at.strftime("%Y%m%d"), at.strftime("%H%M%S"), e.payout_id, e.rail_ref,
                e.account_masked, e.name_masked, Money(e.amount_fen).plain(), "0.00", "CNY",
                _BANK_STATUS[e.status], e.reason,
            ]
        )  # fmt: skip
    lines.append([f"合计笔数：{len(rows)}", f"成功金额：{Money(total).plain()}"])
    return _csv_text(lines).encode("gb18030")


def _parse_bank(data: bytes) -> list[StatementEntry]:
    rows = list(csv.reader(io.StringIO(data.decode("gb18030"))))
    headers = [i for i, row in enumerate(rows) if row[:1] == ["交易日期"]]
    if not headers:
        raise StatementFormatError("bank statement: header row not found")
    start = headers[0] + 1
    status_of = {v: k for k, v in _BANK_STATUS.items()}
    entries = []
    for row in rows[start:]:
        if not row or row[0].startswith("合计"):
            break
        booked = datetime.strptime(row[0] + row[1], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
        entries.append(
            StatementEntry(
                payout_id=row[2], rail_ref=row[3], amount_fen=_fen(row[6]),
                status=status_of[row[9]], booked_at=booked, account_masked=row[4],
                name_masked=row[5], reason=row[10] if len(row) > 10 else "",
            )
        )  # fmt: skip
    return entries


# -- alipay ---------------------------------------------------------------------------------------
_ALIPAY_HEADER = [
    "支付宝交易号", "商户订单号", "业务类型", "创建时间", "完成时间", "对方账户", "对方户名",
    "金额（元）", "服务费（元）", "状态", "失败原因", "备注",
]  # fmt: skip
_ALIPAY_STATUS = {"succeeded": "成功", "failed": "失败"}
_ALIPAY_START = (
    "#-----------------------------------------业务明细列表----------------------------------------"
)
_ALIPAY_END = (
    "#-----------------------------------------业务明细列表结束------------------------------------"
)


def _render_alipay(day: date, rows: list[StatementEntry]) -> bytes:
    total = sum(e.amount_fen for e in rows if e.status == "succeeded")
    head = (
        "#支付宝业务明细查询\r\n"
        f"#账号：[{MERCHANT_ID}]\r\n"
        f"#起始日期：[{day:%Y年%m月%d日} 00:00:00]   终止日期：[{day:%Y年%m月%d日} 23:59:59]\r\n"
        f"{_ALIPAY_START}\r\n"
    )
    body = [_ALIPAY_HEADER]
    for e in rows:
        at = _local(e.booked_at).strftime("%Y-%m-%d %H:%M:%S")
        body.append(
            [
                e.rail_ref, e.payout_id, "单笔转账", at, at, e.account_masked, e.name_masked,
                Money(e.amount_fen).plain(), "0.00", _ALIPAY_STATUS[e.status], e.reason, "提现",
            ]
        )  # fmt: skip
    tail = f"{_ALIPAY_END}\r\n#交易合计：{len(rows)}笔，成功金额：{Money(total).plain()}元\r\n"
    return (head + _csv_text(body) + tail).encode("gb18030")


def _parse_alipay(data: bytes) -> list[StatementEntry]:
    lines = [line for line in data.decode("gb18030").splitlines() if not line.startswith("#")]
    rows = list(csv.reader(lines))
    if not rows or rows[0][:2] != _ALIPAY_HEADER[:2]:
        raise StatementFormatError("alipay statement: header row not found")
    status_of = {v: k for k, v in _ALIPAY_STATUS.items()}
    return [
        StatementEntry(
            payout_id=row[1], rail_ref=row[0], amount_fen=_fen(row[7]), status=status_of[row[9]],
            booked_at=datetime.strptime(row[4], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING),
            account_masked=row[5], name_masked=row[6], reason=row[10],
        )
        for row in rows[1:]
        if row
    ]  # fmt: skip


# -- wechat ---------------------------------------------------------------------------------------
_WECHAT_HEADER = [
    "转账时间", "商户号", "商户批次单号", "商户明细单号", "微信明细单号", "用户openid",
    "转账金额", "转账状态", "失败原因",
]  # fmt: skip
_WECHAT_STATUS = {"succeeded": "SUCCESS", "failed": "FAIL"}


def _render_wechat(_day: date, rows: list[StatementEntry]) -> bytes:
    total = sum(e.amount_fen for e in rows if e.status == "succeeded")
    body = [_WECHAT_HEADER]
    for e in rows:
        at = _local(e.booked_at).strftime("%Y-%m-%d %H:%M:%S")
        values = [
            at, MERCHANT_ID, e.payout_id, e.payout_id, e.rail_ref, e.account_masked,
            Money(e.amount_fen).plain(), _WECHAT_STATUS[e.status], e.reason,
        ]  # fmt: skip
        body.append([f"`{v}" for v in values])
    body.append(["总笔数", "总成功金额"])
    body.append([f"`{len(rows)}", f"`{Money(total).plain()}"])
    return _csv_text(body).encode("utf-8")


def _parse_wechat(data: bytes) -> list[StatementEntry]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if not rows or rows[0][:2] != _WECHAT_HEADER[:2]:
        raise StatementFormatError("wechat statement: header row not found")
    status_of = {v: k for k, v in _WECHAT_STATUS.items()}
    entries = []
    for row in rows[1:]:
        if not row or row[0] == "总笔数":
            break
        v = [cell.removeprefix("`") for cell in row]
        entries.append(
            StatementEntry(
                payout_id=v[3], rail_ref=v[4], amount_fen=_fen(v[6]), status=status_of[v[7]],
                booked_at=datetime.strptime(v[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING),
                account_masked=v[5], reason=v[8] if len(v) > 8 else "",
            )
        )  # fmt: skip
    return entries


# -- e-CNY ----------------------------------------------------------------------------------------
_ECNY_STATUS = {"succeeded": "00", "failed": "01"}


def _render_ecny(day: date, rows: list[StatementEntry]) -> bytes:
    total = sum(e.amount_fen for e in rows if e.status == "succeeded")
    lines = [f"H|ECNY|{MERCHANT_ID}|{day:%Y%m%d}|{len(rows)}"]
    for index, e in enumerate(rows, start=1):
        at = _local(e.booked_at).strftime("%Y%m%d%H%M%S")
        reason = e.reason.replace("|", "/")
        lines.append(
            f"D|{index}|{e.payout_id}|{e.rail_ref}|{e.account_masked}|{Money(e.amount_fen).plain()}|"
            f"{_ECNY_STATUS[e.status]}|{at}|{reason}"
        )
    lines.append(f"T|{len(rows)}|{Money(total).plain()}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _parse_ecny(data: bytes) -> list[StatementEntry]:
    lines = data.decode("utf-8").splitlines()
    if not lines or not lines[0].startswith("H|ECNY|"):
        raise StatementFormatError("e-CNY statement: header record not found")
    status_of = {v: k for k, v in _ECNY_STATUS.items()}
    entries = []
    for line in lines[1:]:
        fields = line.split("|")
        if fields[0] != "D":
            continue
        entries.append(
            StatementEntry(
                payout_id=fields[2], rail_ref=fields[3], account_masked=fields[4],
                amount_fen=_fen(fields[5]), status=status_of[fields[6]],
                booked_at=datetime.strptime(fields[7], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING),
                reason=fields[8] if len(fields) > 8 else "",
            )
        )  # fmt: skip
    return entries


# -- carrier wallet -------------------------------------------------------------------------------
_WALLET_HEADER = [
    "出款时间", "商户订单号", "钱包流水号", "收款手机号", "收款人", "金额（元）", "状态",
    "失败原因",
]  # fmt: skip
_WALLET_STATUS = {"succeeded": "成功", "failed": "失败"}


def _render_wallet(day: date, rows: list[StatementEntry]) -> bytes:
    total = sum(e.amount_fen for e in rows if e.status == "succeeded")
    body = [_WALLET_HEADER]
    for e in rows:
        at = _local(e.booked_at).strftime("%Y-%m-%d %H:%M:%S")
        body.append(
            [
                at, e.payout_id, e.rail_ref, e.account_masked, e.name_masked,
                Money(e.amount_fen).plain(), _WALLET_STATUS[e.status], e.reason,
            ]
        )  # fmt: skip
    body.append(["合计", f"{day:%Y-%m-%d}", f"{len(rows)}笔", "", "", Money(total).plain()])
    return ("\ufeff" + _csv_text(body)).encode("utf-8")


def _parse_wallet(data: bytes) -> list[StatementEntry]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if not rows or rows[0][:2] != _WALLET_HEADER[:2]:
        raise StatementFormatError("carrier wallet statement: header row not found")
    status_of = {v: k for k, v in _WALLET_STATUS.items()}
    entries = []
    for row in rows[1:]:
        if not row or row[0] == "合计":
            break
        entries.append(
            StatementEntry(
                payout_id=row[1], rail_ref=row[2], account_masked=row[3], name_masked=row[4],
                amount_fen=_fen(row[5]), status=status_of[row[6]],
                booked_at=datetime.strptime(row[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING),
                reason=row[7] if len(row) > 7 else "",
            )
        )  # fmt: skip
    return entries


_Render = Callable[[date, list[StatementEntry]], bytes]
_Parse = Callable[[bytes], list[StatementEntry]]
#: How each rail writes and reads its statement.
_FORMATS: dict[RailName, tuple[_Render, _Parse]] = {
    RailName.BANK: (_render_bank, _parse_bank),
    RailName.ALIPAY: (_render_alipay, _parse_alipay),
    RailName.WECHAT: (_render_wechat, _parse_wechat),
    RailName.ECNY: (_render_ecny, _parse_ecny),
    RailName.CARRIER_WALLET: (_render_wallet, _parse_wallet),
}
