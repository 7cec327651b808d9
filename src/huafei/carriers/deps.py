"""What the callback route takes: the carrier channels and the inbox, bound by the composition
root."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends

from huafei.carriers.gateway import Carrier, CarrierGateway
from huafei.carriers.service import CallbackInbox
from huafei.web.context import Provided

CHANNELS: Provided[Mapping[Carrier, CarrierGateway]] = Provided("carrier_channels")
INBOX: Provided[CallbackInbox] = Provided("carrier_inbox")
Channels = Annotated[Mapping[Carrier, CarrierGateway], Depends(CHANNELS.of)]
Inbox = Annotated[CallbackInbox, Depends(INBOX.of)]
