"""Chinese working days (with 调休 swaps) for T+N settlement."""
