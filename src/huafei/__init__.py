"""Huafei: the phone-credit recycling platform."""

__version__ = "0.1.0"
