"""Which carrier a mainland mobile number's segment (号段) was assigned to.

Read from phonenumbers' segment data, which names the three carriers in English. The one
table of those names: the sandboxes' test numbers use it, and any domain that parses a phone
number can (identity depends on carriers, not the other way round).
"""

from __future__ import annotations

from phonenumbers import PhoneNumber
from phonenumbers import carrier as phone_carriers

from huafei.carriers.gateway import Carrier

_SEGMENT_OWNERS = {
    "China Mobile": Carrier.CMCC,
    "China Unicom": Carrier.CUCC,
    "China Telecom": Carrier.CTCC,
}


def segment_carrier(number: PhoneNumber) -> Carrier | None:
    """The carrier ``number``'s segment belongs to; None for a segment of no carrier we serve."""
    return _SEGMENT_OWNERS.get(phone_carriers.name_for_number(number, "en"))
