"""Text messages: the `SmsSender` adapter and its sandbox, whose outbox is a table."""
