"""Shared plumbing: settings, database, money, errors, logging. Imports no domain."""
