"""Enqueue, claim, finish and retry jobs.

Why not a library: the queues we looked at (Celery, RQ, Dramatiq, procrastinate) either need a
broker beside the database or run on PostgreSQL only. A job here must be committed in the same
transaction as the change that causes it, on SQLite and PostgreSQL alike, so this stays a small
table with ``SELECT … FOR UPDATE SKIP LOCKED`` claims (docs/architecture.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from huafei.core.db import insert_ignoring_conflicts
from huafei.jobs.models import Job, JobStatus

JOBS = Job.__table__


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    now: datetime,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 10,
) -> bool:
    """Record a job in the caller's transaction; returns False when ``dedupe_key`` existed."""
    return (
        enqueue_many(
            session,
            [
                NewJob(
                    kind, payload, run_at=run_at, dedupe_key=dedupe_key, max_attempts=max_attempts
                )
            ],
            now=now,
        )
        == 1
    )


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to enqueue (``enqueue_many``)."""

    kind: str
    payload: Mapping[str, Any] | None = None
    run_at: datetime | None = None
    dedupe_key: str | None = None
    max_attempts: int = 10


def enqueue_many(session: Session, jobs: Sequence[NewJob], *, now: datetime) -> int:
    """Record many jobs with one statement; returns how many were new (a job whose
    ``dedupe_key`` exists is left out)."""
    return insert_ignoring_conflicts(
        session,
        JOBS,
        [
            {
                "kind": job.kind,
                "payload": json.dumps(dict(job.payload or {}), sort_keys=True),
                "dedupe_key": job.dedupe_key,
                "status": JobStatus.QUEUED.value,
                "run_at": job.run_at or now,
                "attempts": 0,
                "max_attempts": job.max_attempts,
                "created_at": now,
            }
            for job in jobs
        ],
    )


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker claimed, with what its handler needs."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


def claim(
    session: Session, *, worker: str, now: datetime, lease: timedelta, limit: int = 10
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs for ``worker``: queued ones whose time has come, and running
    ones whose lease ran out (their worker died). Concurrent workers skip each other's rows."""
    due = or_(
        and_(Job.status == JobStatus.QUEUED.value, Job.run_at <= now),
        and_(Job.status == JobStatus.RUNNING.value, Job.locked_until < now),
    )
    rows = session.execute(
        select(Job.id, Job.kind, Job.payload, Job.attempts, Job.max_attempts)
        .where(due)
        .order_by(Job.run_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    session.execute(
        update(Job)
        .where(Job.id.in_([row.id for row in rows]))
        .values(
            status=JobStatus.RUNNING.value,
            locked_by=worker,
            locked_until=now + lease,
            attempts=Job.attempts + 1,
        )
    )
    return [
        ClaimedJob(row.id, row.kind, json.loads(row.payload), row.attempts + 1, row.max_attempts)
        for row in rows
    ]


def finish(session: Session, job_id: int, *, worker: str, now: datetime) -> bool:
    """Mark done, only if this worker still holds the job (else another took it over)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.RUNNING.value)
        .values(status=JobStatus.DONE.value, finished_at=now, locked_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_many(session: Session, job_ids: list[int], *, worker: str, now: datetime) -> int:
    """Mark many jobs done in one statement (only those this worker still holds)."""
    result = session.execute(
        update(Job)
        .where(
            Job.id.in_(job_ids),
            Job.locked_by == worker,
            Job.status == JobStatus.RUNNING.value,
        )
        .values(status=JobStatus.DONE.value, finished_at=now, locked_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def backoff(attempt: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 2 ** max(0, attempt - 1)))


def fail(session: Session, job: ClaimedJob, *, worker: str, now: datetime, error: str) -> JobStatus:
    """Schedule a retry with backoff, or give up after the last attempt."""
    final = job.attempts >= job.max_attempts
    status = JobStatus.FAILED if final else JobStatus.QUEUED
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == worker)
        .values(
            status=status.value,
            run_at=now + backoff(job.attempts),
            locked_until=None,
            last_error=error[:4000],
            finished_at=now if final else None,
        )
    )
    return status


def reschedule(session: Session, job: ClaimedJob, *, worker: str, run_at: datetime) -> None:
    """Put a job back without counting an attempt (it asked to be polled later)."""
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == worker)
        .values(
            status=JobStatus.QUEUED.value,
            run_at=run_at,
            locked_until=None,
            attempts=Job.attempts - 1,
        )
    )


def move_queued(session: Session, dedupe_key: str, *, run_at: datetime) -> bool:
    """Give a job still waiting (queued) another time to run; False when there is none."""
    result = session.execute(
        update(Job)
        .where(Job.dedupe_key == dedupe_key, Job.status == JobStatus.QUEUED.value)
        .values(run_at=run_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def purge_done(session: Session, *, before: datetime) -> int:
    """Delete the jobs finished before ``before``; how many."""
    result = session.execute(
        delete(Job).where(Job.status == JobStatus.DONE.value, Job.finished_at < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def counts(session: Session) -> dict[str, int]:
    """How many jobs there are by status."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {str(row[0]): int(row[1]) for row in rows}


Handler = Callable[[Session, dict[str, Any]], "RetryLater | None"]


@dataclass(frozen=True, slots=True)
class RetryLater:
    """A handler's answer: not done yet, look again at ``at`` (not counted as a failure)."""

    at: datetime
