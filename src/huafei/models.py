"""Every domain's tables, imported so that one metadata describes the whole schema."""

from huafei.carriers.models import CarrierNotification
from huafei.core.db import Base
from huafei.core.models import SystemFlag
from huafei.jobs.models import Job
from huafei.ledger.models import Account, Transfer

metadata = Base.metadata

__all__ = ["Account", "CarrierNotification", "Job", "SystemFlag", "Transfer", "metadata"]
