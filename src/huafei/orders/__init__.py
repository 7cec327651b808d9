"""Recharge-card orders: submission, consumption through a carrier channel, settlement."""
