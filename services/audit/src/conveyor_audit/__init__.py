"""Conveyor's audit service: an append-only, tamper-evident ledger (RFC 9162 Merkle tree + hash chain)
of every lifecycle event.

Its shape differs from the other services' in one way: it has no handler table (`app.state.handlers` is
empty), because it consumes every lifecycle topic into the ledger, with offsets the ledger itself stores,
instead of dispatching events to handlers."""
