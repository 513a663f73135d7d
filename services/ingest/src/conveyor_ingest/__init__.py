"""Conveyor ingest: takes a table over REST, validates it against its declared spec (a reason per column),
stores it content-addressed with its profile and provenance, and announces DatasetArrived (or
DatasetRejected). The order of store, publish and record is explained in `ingest.py`."""
