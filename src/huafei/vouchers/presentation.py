"""The voucher's facts as a person reads them, in Chinese, the language of the document:
section by section, each a list of labels and texts. The PDF prints them; the public
verification page shows them."""

from __future__ import annotations

from decimal import Decimal

from huafei.core.money import Money, Rate
from huafei.vouchers.schemas import ItemValue, VoucherDocument

#: The item's fields by key, in the order they are printed (a key not listed is printed last,
#: under its own name: a new kind's fields show before anyone names them).
ITEM_LABELS: dict[str, str] = {
    "carrier": "运营商",
    "serial_masked": "卡号",
    "face_value_fen": "面值",
    "actual_face_value_fen": "实际面值",
    "profile_name": "回收渠道",
    "lane": "到账速度",
    "payout_id": "提现单号",
    "method": "收款方式",
    "bank_name": "收款银行",
    "account_masked": "收款账号",
    "holder_masked": "收款人",
    "rail": "支付通道",
    "rail_ref": "通道流水号",
    "phone_masked": "转出号码",
    "amount_fen": "转赠金额",
    "channel_ref": "运营商转赠流水号",
}
VALUE_NAMES: dict[str, dict[str, str]] = {
    "carrier": {"cmcc": "中国移动", "cucc": "中国联通", "ctcc": "中国电信"},
    "lane": {"fast": "快速", "normal": "普通"},
    "method": {
        "bank_card": "银行卡",
        "alipay": "支付宝",
        "wechat": "微信支付",
        "ecny": "数字人民币",
    },
    "rail": {"bank": "银行", "alipay": "支付宝", "wechat": "微信支付", "ecny": "数字人民币"},
}
TIME_LABELS: dict[str, str] = {
    "submitted_at": "提交时间",
    "consumed_at": "核销时间",
    "settled_at": "结算时间",
    "requested_at": "申请时间",
    "sent_at": "发出时间",
    "paid_at": "到账时间",
    "transferred_at": "转赠时间",
}
TRANSFER_KINDS: dict[str, str] = {
    "single": "记账",
    "pending": "冻结",
    "post_pending": "确认",
    "void_pending": "解冻",
    "expire_pending": "到期解冻",
}


def yuan(fen: int) -> str:
    """``1234.50 元`` (the built-in font has no ¥ sign)."""
    return f"{Money(fen).plain()} 元"


def item_text(key: str, value: ItemValue) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return yuan(value) if key.endswith("_fen") else str(value)
    return VALUE_NAMES.get(key, {}).get(value, value)


def item_rows(item: dict[str, ItemValue]) -> list[tuple[str, str]]:
    keys = [k for k in ITEM_LABELS if k in item] + sorted(k for k in item if k not in ITEM_LABELS)
    return [(ITEM_LABELS.get(k, k), item_text(k, item[k])) for k in keys]


def rate_text(rate: str) -> str:
    value = Rate(Decimal(rate))
    return f"{value}（{value.as_zhe()}）"


def sections(document: VoucherDocument) -> list[tuple[str, list[tuple[str, str]]]]:
    """What the PDF prints, section by section: ``(heading, [(label, text)…])``."""
    d = document
    seller = d.parties.seller
    out = [
        (
            "交易双方",
            [
                ("卖家", seller.name or "—"),
                ("手机号", seller.phone or "—"),
                ("平台运营方", d.parties.operator.name),
            ],
        ),
        ("交易内容", item_rows(d.item)),
        (
            "金额",
            [
                ("总额", yuan(d.amounts.gross_fen)),
                ("手续费", yuan(d.amounts.fee_fen)),
                ("到账金额", yuan(d.amounts.net_fen)),
            ],
        ),
    ]
    if d.quote is not None:
        q = d.quote
        out.append(
            (
                "报价与费率",
                [
                    ("报价编号", q.id),
                    ("渠道", q.profile),
                    ("费率表版本", str(q.rate_card_version)),
                    ("费率", rate_text(q.rate)),
                    ("报价到账金额", yuan(q.payout_fen)),
                    ("锁价时间", q.locked_at),
                    ("锁价截止", q.expires_at),
                ],
            )
        )
    if d.agreement is not None:
        a = d.agreement
        out.append(
            ("回收协议", [("版本", a.version), ("SHA-256", a.sha256), ("同意时间", a.accepted_at)])
        )
    out.append(
        (
            "账务流水",
            [
                (TRANSFER_KINDS.get(t.kind, t.kind), f"{t.id}  {yuan(t.amount_fen)}  {t.at}")
                for t in d.ledger
            ],
        )
    )
    # The canonical JSON sorts keys; a person reads the moments in the order they happened
    # (the same offset everywhere, so the ISO texts sort by time).
    moments = sorted(d.times.items(), key=lambda item: (item[1], item[0]))
    out.append(("时间（北京时间）", [(TIME_LABELS.get(k, k), v) for k, v in moments]))
    return out
