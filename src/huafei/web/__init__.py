"""The HTTP kit every route uses: the request context, problem details, idempotent answers,
body limits, security headers, request logging and the OpenAPI document. It imports only
``core``; the application itself is assembled in ``huafei.composition.app``."""
