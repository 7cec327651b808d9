"""Durable background work: enqueued with the change, claimed once, retried, recovered."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from factories import make_accounts
from huafei.composition.runtime import register_job_tasks, register_ledger_tasks
from huafei.jobs import service
from huafei.jobs.models import Job, JobStatus
from huafei.jobs.service import RetryLater
from huafei.jobs.worker import TaskRegistry, Worker
from huafei.ledger import NewTransfer, create_transfers, pending_state
from huafei.ledger.models import AccountType, TransferKind


def jobs(db) -> list[Job]:
    return db.run(lambda s: list(s.scalars(select(Job).order_by(Job.id))))


class Boom(Exception):
    pass


def test_a_rolled_back_change_drops_its_job(db, clock) -> None:
    def work(session):
        service.enqueue(session, "noop", {"n": 1}, now=clock.now())
        raise Boom

    with pytest.raises(Boom):
        db.run(work)
    assert jobs(db) == []


def test_dedupe_key_makes_enqueue_idempotent(db, clock) -> None:
    assert db.run(lambda s: service.enqueue(s, "noop", now=clock.now(), dedupe_key="k"))
    assert not db.run(lambda s: service.enqueue(s, "noop", now=clock.now(), dedupe_key="k"))
    assert len(jobs(db)) == 1


def test_worker_runs_due_jobs_and_retries_with_backoff(db, clock) -> None:
    seen: list[int] = []
    registry = TaskRegistry()

    @registry.task("flaky")
    def flaky(session, payload):
        seen.append(payload["n"])
        if len(seen) < 3:
            raise Boom("not yet")

    db.run(lambda s: service.enqueue(s, "flaky", {"n": 7}, now=clock.now()))
    worker = Worker(db, clock, registry, name="w1")
    assert worker.run_once() == 1
    (job,) = jobs(db)
    assert job.status == JobStatus.QUEUED
    assert "not yet" in job.last_error
    assert worker.run_once() == 0  # backing off
    clock.advance(seconds=1)
    worker.run_once()
    clock.advance(seconds=2)
    worker.run_once()
    (job,) = jobs(db)
    assert job.status == JobStatus.DONE
    assert seen == [7, 7, 7]
    assert job.attempts == 3


def test_gives_up_after_max_attempts(db, clock) -> None:
    registry = TaskRegistry()
    registry.task("broken")(lambda session, payload: (_ for _ in ()).throw(Boom("always")))
    db.run(lambda s: service.enqueue(s, "broken", now=clock.now(), max_attempts=2))
    worker = Worker(db, clock, registry, name="w1")
    worker.run_once()
    clock.advance(seconds=5)
    worker.run_once()
    (job,) = jobs(db)
    assert job.status == JobStatus.FAILED


def test_retry_later_is_not_a_failure(db, clock) -> None:
    registry = TaskRegistry()
    registry.task("poll")(lambda session, payload: RetryLater(clock.now() + timedelta(seconds=30)))
    db.run(lambda s: service.enqueue(s, "poll", now=clock.now(), max_attempts=1))
    worker = Worker(db, clock, registry, name="w1")
    for _ in range(3):
        clock.advance(seconds=31)
        worker.run_once()
    (job,) = jobs(db)
    assert job.status == JobStatus.QUEUED
    assert job.attempts == 0


def test_a_dead_workers_job_is_taken_over_after_its_lease(db, clock) -> None:
    ran: list[str] = []
    registry = TaskRegistry()
    registry.task("once")(lambda session, payload: ran.append("ran"))
    db.run(lambda s: service.enqueue(s, "once", now=clock.now()))
    lease = timedelta(seconds=60)
    # worker A claims and dies before finishing
    claimed = db.run(lambda s: service.claim(s, worker="A", now=clock.now(), lease=lease))
    assert len(claimed) == 1
    other = Worker(db, clock, registry, name="B", lease=lease)
    assert other.run_once() == 0  # still leased to A
    clock.advance(seconds=61)
    assert other.run_once() == 1
    assert ran == ["ran"]
    # A waking up cannot mark B's job done
    assert not db.run(lambda s: service.finish(s, claimed[0].id, worker="A", now=clock.now()))


def test_concurrent_workers_never_run_a_job_twice(db, clock) -> None:
    runs: Counter[int] = Counter()
    lock = threading.Lock()
    registry = TaskRegistry()

    @registry.task("count")
    def count(session, payload):
        with lock:
            runs[payload["n"]] += 1

    def enqueue_all(session):
        for n in range(120):
            service.enqueue(session, "count", {"n": n}, now=clock.now())

    db.run(enqueue_all)
    workers = [Worker(db, clock, registry, name=f"w{i}", batch=5) for i in range(4)]
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(runs) == list(range(120))
    assert set(runs.values()) == {1}
    assert {job.status for job in jobs(db)} == {JobStatus.DONE}


def test_ledger_expiry_runs_as_periodic_background_work(db, clock) -> None:
    ids = make_accounts(
        db,
        clock.now(),
        a={"type": AccountType.ASSET},
        b={"type": AccountType.LIABILITY, "code": 2002},
    )
    db.run(
        lambda s: create_transfers(
            s,
            [
                NewTransfer(
                    "h", ids["a"], ids["b"], 5, kind=TransferKind.PENDING, timeout_seconds=30
                )
            ],
            now=clock.now(),
        )
    )
    registry = TaskRegistry()
    register_ledger_tasks(registry, clock)
    workers = [Worker(db, clock, registry, name=f"w{i}") for i in range(2)]
    clock.advance(seconds=31)
    for worker in workers:  # two workers in the same time slot: one expiry job, one expiry
        worker.run_until_idle()
    assert db.run(lambda s: pending_state(s, "h")) is TransferKind.EXPIRE_PENDING
    periodic = [job for job in jobs(db) if job.kind == "ledger.expire_pending"]
    assert len(periodic) == 1


def test_batch_handlers_take_many_jobs_and_isolate_a_bad_one(db, clock) -> None:
    batches: list[list[int]] = []
    registry = TaskRegistry()

    @registry.batch_task("many")
    def many(payloads):
        numbers = [p["n"] for p in payloads]
        if 13 in numbers:
            raise Boom("thirteen")
        batches.append(numbers)

    def enqueue_all(session):
        for n in range(20):
            service.enqueue(session, "many", {"n": n}, now=clock.now(), max_attempts=1)

    db.run(enqueue_all)
    Worker(db, clock, registry, name="w1", batch=50).run_until_idle()
    assert len(batches) == 19  # the batch with 13 failed, so every job ran alone …
    assert sorted(n for batch in batches for n in batch) == [n for n in range(20) if n != 13]
    statuses = {job.payload: job.status for job in jobs(db)}
    assert statuses.pop('{"n": 13}') == JobStatus.FAILED  # … and only 13 failed
    assert set(statuses.values()) == {JobStatus.DONE}

    batches.clear()
    db.run(
        lambda s: [service.enqueue(s, "many", {"n": 100 + n}, now=clock.now()) for n in range(5)]
    )
    Worker(db, clock, registry, name="w1", batch=50).run_until_idle()
    assert batches == [[100, 101, 102, 103, 104]]  # a clean batch runs in one call


def test_finished_jobs_are_purged_after_a_week_failed_ones_kept(db, clock) -> None:
    registry = TaskRegistry()
    register_job_tasks(registry, clock)

    @registry.task("work")
    def work(_session, _payload) -> None:
        return None

    @registry.task("broken")
    def broken(_session, _payload) -> None:
        raise RuntimeError("always")

    db.run(lambda s: service.enqueue(s, "work", {"n": 1}, now=clock.now()))
    db.run(lambda s: service.enqueue(s, "broken", now=clock.now(), max_attempts=1))
    worker = Worker(db, clock, registry, name="w")
    worker.run_until_idle()
    clock.advance(days=6)
    db.run(lambda s: service.enqueue(s, "work", {"n": 2}, now=clock.now()))
    worker.run_until_idle()
    assert Counter(j.kind for j in jobs(db) if j.status == JobStatus.DONE.value)["work"] == 2

    clock.advance(days=2)  # the first job finished 8 days ago, the second 2 days ago
    worker.run_until_idle()
    left = jobs(db)
    assert [j.payload for j in left if j.kind == "work"] == ['{"n": 2}']
    assert [j.status for j in left if j.kind == "broken"] == [JobStatus.FAILED.value]
