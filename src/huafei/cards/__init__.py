"""Recharge cards: batch parsing against the carriers' card formats (``carriers.formats``), PIN
encryption and duplicate detection."""
