"""The voucher as a PDF in Chinese, rendered from its document alone.

The same document always gives the same bytes: reportlab's ``invariant`` mode fixes the
creation date and the file id, the fonts are built in (the CID font ``STSong-Light``, which
needs no font file), and nothing else goes in. So the PDF is not stored: the stored JSON and
its hash are the voucher, and a download renders it again (docs/vouchers.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from huafei.vouchers.presentation import sections
from huafei.vouchers.schemas import VoucherDocument

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 50
LABEL_WIDTH = 120
LINE = 15
QR_SIZE = 110


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
