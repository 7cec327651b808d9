"""Durable background work kept in the database (an outbox the worker drains)."""
