"""What the credit routes take besides the seller: the top-ups, bound by the composition root."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from huafei.credit.sending import TopUps
from huafei.web.context import Provided

#: The carriers, the terms and the notifier a top-up needs (``credit.sending.TopUps``).
TOPUPS: Provided[TopUps] = Provided("credit_topups")
TopUpsDep = Annotated[TopUps, Depends(TOPUPS.of)]
