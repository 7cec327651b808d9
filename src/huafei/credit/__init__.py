"""Consumption credit (消费金) and where a settled order's money goes (``destinations``)."""
