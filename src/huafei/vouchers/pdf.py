"""The voucher as a PDF in Chinese, rendered from its document alone.

The same document always gives the same bytes: reportlab's ``invariant`` mode fixes the
creation date and the file id, the fonts are built in (the CID font ``STSong-Light``, which
needs no font file), and nothing else goes in. So the PDF is not stored: the stored JSON and
its hash are the voucher, and a download renders it again (docs/vouchers.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from huafei.core.money import Money, Rate
from huafei.vouchers.schemas import ItemValue, VoucherDocument

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 50
LABEL_WIDTH = 120
LINE = 15
QR_SIZE = 110

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


def _item_rows(item: dict[str, ItemValue]) -> list[tuple[str, str]]:
    keys = [k for k in ITEM_LABELS if k in item] + sorted(k for k in item if k not in ITEM_LABELS)
    return [(ITEM_LABELS.get(k, k), item_text(k, item[k])) for k in keys]


def _rate_text(rate: str) -> str:
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
        ("交易内容", _item_rows(d.item)),
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
                    ("费率", _rate_text(q.rate)),
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
    out.append(("时间（北京时间）", [(TIME_LABELS.get(k, k), v) for k, v in d.times.items()]))
    return out


class _Page:
    """A cursor down the page that starts a new one when the space runs out."""

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.y = PAGE_HEIGHT - MARGIN

    def need(self, height: float) -> None:
        if self.y - height < MARGIN:
            self.canvas.showPage()
            self.y = PAGE_HEIGHT - MARGIN

    def text(self, x: float, text: str, *, size: float = 10) -> None:
        self.canvas.setFont(FONT, size)
        self.canvas.drawString(x, self.y, text)

    def rows(self, heading: str, rows: Iterable[tuple[str, str]]) -> None:
        self.need(LINE * 3)
        self.y -= LINE * 0.6
        self.text(MARGIN, heading, size=12)
        self.y -= LINE * 1.2
        for label, value in rows:
            self.need(LINE)
            self.text(MARGIN + 10, label, size=9)
            self.text(MARGIN + LABEL_WIDTH, value, size=9)
            self.y -= LINE


def _qr(canvas: Canvas, url: str, x: float, y: float) -> None:
    widget = QrCodeWidget(url, barLevel="M")
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(
        QR_SIZE, QR_SIZE, transform=[QR_SIZE / (right - left), 0, 0, QR_SIZE / (top - bottom), 0, 0]
    )
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def render_pdf(document: VoucherDocument, sha256: str) -> bytes:
    """The voucher's PDF (A4): the same document and hash give the same bytes."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(f"{document.title} {document.number}")
    canvas.setAuthor(document.parties.operator.name)
    page = _Page(canvas)
    _qr(canvas, document.verify_url, PAGE_WIDTH - MARGIN - QR_SIZE, PAGE_HEIGHT - MARGIN - QR_SIZE)
    page.text(MARGIN, document.title, size=18)
    page.y -= LINE * 2
    for label, value in (
        ("凭证编号", document.number),
        ("校验码", document.check_code),
        ("出具时间", document.issued_at),
    ):
        page.text(MARGIN, label, size=11)
        page.text(MARGIN + 70, value, size=11)
        page.y -= LINE * 1.3
    page.y = min(page.y, PAGE_HEIGHT - MARGIN - QR_SIZE - LINE)
    for heading, rows in sections(document):
        page.rows(heading, rows)
    page.rows(
        "核验",
        [
            ("凭证 SHA-256", sha256),
            ("存证证明", "（尚未接入）" if document.evidence_proof is None else "见 JSON 凭证"),
            ("核验方式", "扫描右上角二维码，或在核验页输入凭证编号和校验码"),
        ],
    )
    page.need(LINE)
    page.text(MARGIN, document.verify_url.split("?", 1)[0], size=8)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
