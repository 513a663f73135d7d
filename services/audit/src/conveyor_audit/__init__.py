"""Conveyor's audit service: an append-only, tamper-evident ledger (RFC 9162 Merkle tree + hash chain)
of every lifecycle event."""
