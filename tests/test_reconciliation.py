"""Daily reconciliation over a real sandbox statement with injected differences: every
difference is found, classified, made a case with its evidence — and nothing else."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from huafei.cli.main import app
from huafei.jobs import service as jobs
from payouts_harness import running_platform

D = date(2026, 11, 25)
NEXT = date(2026, 11, 26)
runner = CliRunner()


@pytest.fixture
def platform(db, clock, tmp_path):
    clock.current = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
    with running_platform(db, clock, tmp_path) as running:
        yield running


def withdraw_paid(platform, seller: str, amount: str, *, fail: bool = False) -> dict:
    platform.fund(seller, 1_000_000)
    card = platform.add_card(seller)
    if fail:
        platform.switch("account_frozen")
    withdrawal = platform.withdraw(seller, card["id"], amount).json()
    platform.worker.run_until_idle()
    return platform.wait_status(seller, withdrawal["id"], "failed" if fail else "paid")


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("gb18030"))))


def to_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("gb18030")


def fetch(platform, day: date) -> bytes:
    return platform.container.payouts.rail("bank").fetch_statement(day)


def test_every_injected_difference_and_nothing_else(platform, clock, tmp_path, monkeypatch) -> None:
    w = {
        name: withdraw_paid(platform, f"seller:{n}", "100")
        for n, name in enumerate("ABCEF", start=1)
    }
    w["H"] = withdraw_paid(platform, "seller:9", "77", fail=True)
    clock.current = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
    w["T"] = withdraw_paid(platform, "seller:10", "66.6")

    statement = fetch(platform, D)
    written = tmp_path / "sandbox" / "rails" / "bank" / "bank-20261125.csv"
    assert written.read_bytes() == statement
    rows = rows_of(statement)
    header = rows.index(next(r for r in rows if r[:1] == ["交易日期"]))
    body = {r[2]: r for r in rows[header + 1 : -1]}
    assert set(body) == {x["payout_id"] for x in w.values()}
    assert body[w["H"]["payout_id"]][9] == "失败"

    # The rail's file, with differences: C never booked, E and F altered, G unknown to us,
    # T booked just after midnight (on the next day's file).
    del body[w["C"]["payout_id"]]
    body[w["E"]["payout_id"]][6] = "100.01"
    body[w["F"]["payout_id"]][9] = "失败"
    unknown = list(body[w["A"]["payout_id"]])
    unknown[2], unknown[3] = "HFW20261125DEADBEEF0001", "BANK2026112599999999"
    body[unknown[2]] = unknown
    moved = body.pop(w["T"]["payout_id"])
    moved[0], moved[1] = "20261126", "001000"
    day_file = tmp_path / "bank-20261125.csv"
    day_file.write_bytes(to_bytes([*rows[: header + 1], *body.values(), rows[-1]]))

    monkeypatch.setenv("HUAFEI_DATABASE_URL", platform.db.url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    result = runner.invoke(
        app, ["reconcile", "--rail", "bank", "--date", "2026-11-25", "--file", str(day_file)]
    )
    assert result.exit_code == 1, result.output
    assert "missing_at_rail: 1" in result.output

    report = platform.http.get(
        "/api/v1/finance/reconciliation/bank/2026-11-25", headers=platform.staff_headers(1)
    )
    found = {line["payout_id"]: line["category"] for line in report.json()["lines"]}
    assert found == {
        w["A"]["payout_id"]: "matched",
        w["B"]["payout_id"]: "matched",
        w["H"]["payout_id"]: "matched",
        w["C"]["payout_id"]: "missing_at_rail",
        w["E"]["payout_id"]: "amount_mismatch",
        w["F"]["payout_id"]: "status_mismatch",
        "HFW20261125DEADBEEF0001": "missing_on_our_side",
        w["T"]["payout_id"]: "timing_difference",
    }
    summary = report.json()["summary"]
    assert summary["cases_opened"] == 4
    assert summary["rail_paid_fen"] == 4 * 10_000 + 1
    assert summary["our_paid_fen"] == 5 * 10_000 + 6_660

    cases = platform.http.get(
        "/api/v1/finance/reconciliation-cases", headers=platform.staff_headers(1)
    ).json()
    by_key = {c["line_key"]: c for c in cases}
    assert {k: c["category"] for k, c in by_key.items()} == {
        w["C"]["payout_id"]: "missing_at_rail",
        w["E"]["payout_id"]: "amount_mismatch",
        w["F"]["payout_id"]: "status_mismatch",
        "HFW20261125DEADBEEF0001": "missing_on_our_side",
    }
    amount_case = by_key[w["E"]["payout_id"]]["evidence"]
    assert amount_case["statement"]["amount_fen"] == 10_001
    assert amount_case["withdrawal"]["amount_fen"] == 10_000
    assert {t["id"].rsplit(":", 1)[1] for t in amount_case["ledger"]} >= {"hold", "payout"}
    assert amount_case["statement_source"] == "bank-20261125.csv"
    assert len(amount_case["statement_sha256"]) == 64

    # Running the day again changes nothing and duplicates no case.
    again = runner.invoke(
        app, ["reconcile", "--rail", "bank", "--date", "2026-11-25", "--file", str(day_file)]
    )
    assert again.exit_code == 1
    assert (
        len(
            platform.http.get(
                "/api/v1/finance/reconciliation-cases", headers=platform.staff_headers(1)
            ).json()
        )
        == 4
    )

    # The next day's statement books T: the timing difference resolves by itself.
    next_rows = rows_of(fetch(platform, NEXT))
    next_header = next(i for i, r in enumerate(next_rows) if r[:1] == ["交易日期"])
    next_file = to_bytes([*next_rows[: next_header + 1], moved, next_rows[-1]])
    response = platform.http.post(
        "/api/v1/finance/reconciliation/bank/2026-11-26",
        content=next_file,
        headers={**platform.staff_headers(1), "X-Statement-Name": "bank-20261126.csv"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["matched"] == 1
    assert response.json()["timing_resolved"] == 1
    assert response.json()["cases_opened"] == 0
    day_lines = platform.http.get(
        "/api/v1/finance/reconciliation/bank/2026-11-25", headers=platform.staff_headers(1)
    ).json()["lines"]
    timing = next(line for line in day_lines if line["category"] == "timing_difference")
    assert timing["open"] is False
    assert timing["resolved_at"] is not None

    # Finance works a case.
    case_id = by_key[w["C"]["payout_id"]]["id"]
    resolved = platform.http.post(
        f"/api/v1/finance/reconciliation-cases/{case_id}/resolve",
        json={"note": "bank confirmed a lost instruction; re-sent under a new payout"},
        headers=platform.staff_headers(2),
    )
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_by_staff_id"] == platform.staff_id(2)
    platform.assert_ledger_sound()


def test_an_unresolved_timing_difference_becomes_a_case(platform, clock) -> None:
    clock.current = datetime(2026, 11, 25, 15, 45, tzinfo=UTC)  # 23:45 in Beijing
    late = withdraw_paid(platform, "seller:1", "50")
    rows = rows_of(fetch(platform, D))
    header = next(i for i, r in enumerate(rows) if r[:1] == ["交易日期"])
    without = to_bytes([*rows[: header + 1], rows[-1]])
    first = platform.http.post(
        "/api/v1/finance/reconciliation/bank/2026-11-25",
        content=without,
        headers=platform.staff_headers(1),
    ).json()
    assert first["counts"]["timing_difference"] == 1
    assert first["cases_opened"] == 0
    second = platform.http.post(
        "/api/v1/finance/reconciliation/bank/2026-11-26",
        content=without,
        headers=platform.staff_headers(1),
    ).json()
    assert second["timing_escalated"] == 1
    cases = platform.http.get(
        "/api/v1/finance/reconciliation-cases", headers=platform.staff_headers(1)
    ).json()
    assert [(c["category"], c["line_key"], c["statement_date"]) for c in cases] == [
        ("missing_at_rail", late["payout_id"], "2026-11-25")
    ]


@pytest.mark.parametrize("rail", ["alipay", "wechat", "ecny"])
def test_the_daily_job_reconciles_every_rail(platform, clock, rail) -> None:
    numbers = {"alipay": "13800138000", "wechat": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
               "ecny": "0021456789012345"}  # fmt: skip
    platform.fund("seller:5", 100_000)
    method = platform.http.post(
        "/api/v1/payout-methods",
        json={
            "kind": rail,
            "account_no": numbers[rail],
            "holder_name": "张三",
            "sms_code": platform.method_code("seller:5"),
        },
        headers=platform.owner_headers("seller:5"),
    ).json()
    withdrawal = platform.withdraw("seller:5", method["id"], "12.34").json()
    platform.worker.run_until_idle()
    platform.wait_status("seller:5", withdrawal["id"], "paid")
    clock.current = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # the next morning in Beijing
    platform.db.run(lambda s: jobs.enqueue(s, "payouts.reconcile_daily", now=clock.now()))
    platform.worker.run_until_idle()
    for name in ("bank", "alipay", "wechat", "ecny"):
        report = platform.http.get(
            f"/api/v1/finance/reconciliation/{name}/2026-11-25", headers=platform.staff_headers(1)
        ).json()
        expected = 1 if name == rail else 0
        assert report["summary"]["counts"]["matched"] == expected, name
        assert sum(report["summary"]["counts"].values()) == expected
        assert report["source"] == "rail"
    assert json.loads(json.dumps(report))  # the report is plain JSON
