"""The job table: work recorded in the same transaction as the change that causes it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    """Waiting for ``run_at``."""
    RUNNING = "running"
    """Claimed by a worker until ``locked_until``; claimable again after that (a dead worker)."""
    DONE = "done"
    FAILED = "failed"
    """Gave up after ``max_attempts``; needs an operator."""


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued','running','done','failed')", name="status_known"),
        Index("ix_jobs_due", "status", "run_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    #: enqueueing the same key twice is a no-op (idempotent enqueue, periodic slots)
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    locked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
