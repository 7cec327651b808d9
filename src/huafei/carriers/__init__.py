"""Carrier channels: the gateway protocol, the card formats each carrier sells, the callback
inbox and the three carriers' sandboxes."""
