"""Where the checkpoint signing key comes from: settings in production, a persisted dev key otherwise."""

import logging
import os
from pathlib import Path

from conveyor_kernel import ConfigurationError

from .note import NoteError, Signer, Verifier, parse_skey, parse_vkey
from .settings import AuditSettings

logger = logging.getLogger(__name__)
DEV_KEY_FILE = "signing.key"


def dev_key_path(settings: AuditSettings) -> Path:
    return settings.data_dir / "audit" / DEV_KEY_FILE


def load_signer(settings: AuditSettings) -> Signer:
    if settings.signing_key is not None:
        try:
            signer = parse_skey(settings.signing_key.get_secret_value())
        except NoteError as exc:
            raise ConfigurationError(f"CONVEYOR_SIGNING_KEY is not usable: {exc}") from exc
    elif settings.mode == "production":
        raise ConfigurationError(
            "CONVEYOR_SIGNING_KEY is required in production mode: a C2SP private key "
            "(PRIVATE+KEY+<name>+<key id>+<base64>); "
            "generate one with `conveyor audit keygen` and keep it in your secret store"
        )
    else:
        signer = _dev_signer(settings)
    if signer.name != settings.origin:
        logger.info("signing key name %s differs from origin %s", signer.name, settings.origin)
    return signer


def trusted_verifiers(settings: AuditSettings, signer: Signer) -> list[Verifier]:
    """The current key first, then the retired ones: a checkpoint verifies if one of them signed it."""
    retired = []
    for text in settings.retired_keys:
        try:
            retired.append(parse_vkey(text))
        except NoteError as exc:
            raise ConfigurationError(f"CONVEYOR_RETIRED_KEYS holds {text[:40]!r}, not a verifier key: {exc}") from exc
    return [signer.verifier, *retired]


def _dev_signer(settings: AuditSettings) -> Signer:
    path = dev_key_path(settings)
    if path.exists():
        signer = parse_skey(path.read_text())
        logger.warning("dev mode: signing checkpoints with the generated key in %s (not for production)", path)
        return signer
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = Signer.generate(settings.origin)
    # Written 0600 and atomically, so a crash never leaves half a key that the next start would reject.
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.skey() + "\n")
    os.replace(temporary, path)
    logger.warning("dev mode: generated a checkpoint signing key in %s; verifiers need %s",
                   path, signer.verifier.vkey())
    return signer
