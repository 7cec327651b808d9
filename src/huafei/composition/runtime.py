"""Wiring of background work: every domain's tasks in one registry, and the worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from huafei.balance.tasks import BalanceTasks, register_balance_tasks
from huafei.balance.voucher_facts import balance_sale_voucher_facts
from huafei.composition.container import Container
from huafei.core.clock import Clock
from huafei.credit.tasks import CreditTasks, register_credit_tasks
from huafei.identity.service.housekeeping import purge_expired
from huafei.jobs.service import purge_done
from huafei.jobs.worker import TaskRegistry, Worker
from huafei.ledger import expire_pending_transfers
from huafei.notices.tasks import NoticeTasks, register_notice_tasks
from huafei.orders.tasks import OrderTasks, register_order_tasks
from huafei.orders.voucher_facts import order_voucher_facts
from huafei.payouts.tasks import PayoutTasks, register_payout_tasks
from huafei.payouts.voucher_facts import withdrawal_voucher_facts
from huafei.vouchers.issuing import VERIFY_PAGE_PATH, Issuer
from huafei.vouchers.schemas import FactsBuilder, Subject
from huafei.vouchers.tasks import VoucherTasks, register_voucher_tasks

LEDGER_EXPIRE_EVERY = timedelta(seconds=10)
IDENTITY_PURGE_EVERY = timedelta(hours=1)
JOBS_PURGE_EVERY = timedelta(hours=1)
#: Finished jobs are kept this long for inspection, then deleted: a queue table that only grows
#: slows every claim (docs/performance.md). Failed jobs are kept for the operators.
JOBS_KEEP_DONE = timedelta(days=7)


def register_ledger_tasks(registry: TaskRegistry, clock: Clock) -> None:
    """The ledger imports no other domain, so its periodic work is wired here."""

    def expire(session: Session, _payload: dict[str, Any]) -> None:
        # Expire everything due, in chunks; deterministic expiry ids make overlap harmless.
        while expire_pending_transfers(session, now=clock.now(), limit=500) == 500:
            pass

    registry.every("ledger.expire_pending", LEDGER_EXPIRE_EVERY, expire)


def register_job_tasks(registry: TaskRegistry, clock: Clock) -> None:
    def purge(session: Session, _payload: dict[str, Any]) -> None:
        purge_done(session, before=clock.now() - JOBS_KEEP_DONE)

    registry.every("jobs.purge_done", JOBS_PURGE_EVERY, purge)


def register_identity_tasks(registry: TaskRegistry, clock: Clock) -> None:
    def purge(session: Session, _payload: dict[str, Any]) -> None:
        purge_expired(session, now=clock.now())

    registry.every("identity.purge_expired", IDENTITY_PURGE_EVERY, purge)


def build_registry(container: Container) -> TaskRegistry:
    registry = TaskRegistry()
    register_ledger_tasks(registry, container.clock)
    register_job_tasks(registry, container.clock)
    register_payout_tasks(registry, PayoutTasks(container.db, container.clock, container.payouts))
    register_identity_tasks(registry, container.clock)
    register_order_tasks(registry, order_tasks(container))
    register_notice_tasks(registry, NoticeTasks(container.db, container.clock, container.sms))
    register_voucher_tasks(registry, voucher_tasks(container))
    register_credit_tasks(registry, CreditTasks(container.topups))
    register_balance_tasks(registry, balance_tasks(container))
    return registry


#: Whose records get vouchers: a subject and the builder of its facts. A new kind of record
#: in a table of its own is one more line here and a ``request_voucher`` call where it becomes
#: final (docs/vouchers.md).
VOUCHER_BUILDERS: dict[str, FactsBuilder] = {
    Subject.ORDER: order_voucher_facts,
    Subject.WITHDRAWAL: withdrawal_voucher_facts,
    Subject.BALANCE_SALE: balance_sale_voucher_facts,
}


def voucher_tasks(container: Container) -> VoucherTasks:
    settings = container.settings
    return VoucherTasks(
        db=container.db,
        clock=container.clock,
        issuer=Issuer(
            keyring=container.keyring,
            operator_name=settings.operator_name,
            verify_url=f"{settings.platform_url()}{VERIFY_PAGE_PATH}",
        ),
        builders=VOUCHER_BUILDERS,
    )


def order_tasks(container: Container) -> OrderTasks:
    return OrderTasks(
        db=container.db,
        clock=container.clock,
        keyring=container.keyring,
        channels=container.carriers,
        notifier=container.notifier,
        callback_url=container.carrier_callback_url,
        first_check=timedelta(seconds=container.settings.orders_check_after_seconds),
    )


def balance_tasks(container: Container) -> BalanceTasks:
    return BalanceTasks(
        db=container.db,
        clock=container.clock,
        keyring=container.keyring,
        channels=container.carriers,
        notifier=container.notifier,
        first_check=timedelta(seconds=container.settings.orders_check_after_seconds),
    )


def build_worker(container: Container, *, name: str | None = None) -> Worker:
    return Worker(
        container.db,
        container.clock,
        build_registry(container),
        name=name,
        lease=timedelta(seconds=container.settings.worker_lease_seconds),
    )
