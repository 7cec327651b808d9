"""The seller portal and the operations console: server-rendered pages in Simplified Chinese
(default) and English, calling the domains' services. See docs/portal.md."""
