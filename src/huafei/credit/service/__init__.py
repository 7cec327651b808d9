"""Consumption credit: the balance and its history (``balance``), top-ups bought with it
(``topups``)."""
