"""Recharge cards: formats per carrier, batch parsing, PIN encryption and duplicate detection."""
