"""Consent and erasure: ingest's consent component (see docs/consent.md for why it lives in ingest).

- `pseudonyms`: a subject id column is replaced by random references before any byte is stored;
- `book`: consent records per subject and purpose (ISO/IEC TS 27560 / W3C DPV shaped), published as
  ConsentChanged on the compacted topic conveyor.consent;
- `erasure`: GDPR Art. 17, requested by a controller, approved by a privacy officer, resumable.
"""
