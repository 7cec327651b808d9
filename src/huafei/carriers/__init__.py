"""Carrier channels: the gateway protocol and the three carriers' sandboxes."""
