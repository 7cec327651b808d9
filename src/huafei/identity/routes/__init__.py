"""HTTP routes of the identity domain: ``seller`` (sign-in, profile, KYC, limits; the partner's
own view; the sandbox liveness helper), ``staff`` (the operations console's API) and
``sessions``, the session endpoints both kinds of account share."""
