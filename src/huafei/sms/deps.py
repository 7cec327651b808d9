"""What routes of any domain take to send a text: the SMS adapter the composition root chose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from huafei.sms.sender import SmsSender
from huafei.web.context import Provided

SMS_SENDER: Provided[SmsSender] = Provided("sms_sender")
Sms = Annotated[SmsSender, Depends(SMS_SENDER.of)]
