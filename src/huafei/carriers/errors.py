"""Carrier-domain errors besides the gateway's own (``GatewayError``, ``BadCallbackSignature``)."""

from __future__ import annotations

from huafei.core.errors import NotFound, ValidationFailed


class MalformedCallback(ValidationFailed):
    code = "malformed_carrier_callback"
    title = "The carrier callback is signed but not in the documented format"


class CarrierNotConfigured(NotFound):
    code = "carrier_not_configured"
    title = "No channel is configured for this carrier"


class NotificationNotFound(NotFound):
    code = "carrier_notification_not_found"
    title = "No such carrier notification in the inbox"


class FaceValueNotSold(ValidationFailed):
    code = "face_value_not_sold"
    title = "The carrier does not sell cards of this face value"
