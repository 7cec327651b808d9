"""The composition root: builds the platform's objects from settings and wires every domain
into the HTTP application (``app``), the worker (``runtime``) and the demo data (``demo``).

Nothing below this package imports it: domains receive what they need as arguments or as
``web.context.Provided`` pieces bound here (docs/architecture.md).
"""
