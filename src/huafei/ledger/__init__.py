"""Double-entry ledger modelled on TigerBeetle's accounts and transfers.

Other domains call :mod:`huafei.ledger.service`; the ledger imports no other domain.
"""
