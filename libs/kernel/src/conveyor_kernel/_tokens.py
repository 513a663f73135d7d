"""Bearer tokens: JWTs with an asymmetric signature, checked against the issuer's JWKS.

Any OIDC provider can issue them: the verifier needs the issuer (`iss`), the audience (`aud`) and the JWKS
(a URL or a file). In dev mode Conveyor is its own issuer (DevIssuer): an Ed25519 keypair and its JWKS under
the data dir, created once by whichever process needs it first, read by every service.

Claims: `iss`, `aud`, `exp`, `sub` (required), the role in `role` (the claim name is a setting), and
`kind` = "user" (default) | "service". A refusal names its reason (TokenRefused), which the guard answers
as 401 so the caller knows what to fix.
"""

import asyncio
import base64
import hashlib
import json
import logging
import os
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from ._identity import ROLES, Kind, Principal
from ._settings import DEV_ISSUER

logger = logging.getLogger(__name__)

DEV_TTL_SECONDS = 8 * 3600
_REFRESH_EVERY = 30.0  # seconds between JWKS re-reads for an unknown key id (a rotation, or a forgery)


class TokenRefused(Exception):  # noqa: N818 - reads as "the token was refused"
    """The token is missing or does not verify; the message says why and what to do."""


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 key id: the sha256 of the key's required members, base64url."""
    members = {k: jwk[k] for k in ("crv", "kty", "x")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_atomic(path: Path, data: bytes, mode: int = 0o600, exclusive: bool = False) -> bool:
    """Write a file whole or not at all; with `exclusive`, only if it does not exist yet (returns False then)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        if exclusive:
            try:
                os.link(tmp, path)  # atomic create-if-absent: two processes racing keep the first key
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
            tmp = ""
        return True
    finally:
        if tmp:
            Path(tmp).unlink(missing_ok=True)


class DevIssuer:
    """Conveyor's own token issuer, for dev mode: `folder`/dev-token-key.pem (private, 0600) and jwks.json."""

    KEY_FILE, JWKS_FILE = "dev-token-key.pem", "jwks.json"

    def __init__(self, folder: Path, key: Ed25519PrivateKey, issuer: str = DEV_ISSUER,
                 audience: str = "conveyor") -> None:
        self.folder, self.issuer, self.audience = folder, issuer, audience
        self._key = key
        self.jwk = {**json.loads(OKPAlgorithm.to_jwk(key.public_key())), "alg": "EdDSA", "use": "sig"}
        self.jwk["kid"] = _thumbprint(self.jwk)

    @property
    def jwks_path(self) -> Path:
        return self.folder / self.JWKS_FILE

    @classmethod
    def ensure(cls, folder: Path, issuer: str = DEV_ISSUER, audience: str = "conveyor") -> "DevIssuer":
        """The dev issuer in `folder`, its keypair created on first use (safe when processes race)."""
        folder.mkdir(parents=True, exist_ok=True)
        key_path = folder / cls.KEY_FILE
        if not key_path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            if _write_atomic(key_path, pem, exclusive=True):
                logger.warning("dev mode: created the token signing key %s (not for production)", key_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{key_path} is not an Ed25519 private key; delete it to get a new one")
        issuer_ = cls(folder, key, issuer, audience)
        jwks = json.dumps({"keys": [issuer_.jwk]}, indent=2).encode()
        if not issuer_.jwks_path.exists() or issuer_.jwks_path.read_bytes() != jwks:
            _write_atomic(issuer_.jwks_path, jwks, mode=0o644)
        return issuer_

    def mint(self, subject: str, role: str = "", kind: Kind | str = Kind.USER, ttl: float = DEV_TTL_SECONDS,
             now: float | None = None, **claims: Any) -> str:
        """A signed token; `claims` override or add any claim, and `kind` may be any string (tests forge bad
        tokens with both)."""
        issued = int(time.time() if now is None else now)
        body: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": subject, "iat": issued,
                                "exp": issued + int(ttl), "kind": str(kind)}
        if role:
            body["role"] = role
        body.update(claims)
        return jwt.encode(body, self._key, algorithm="EdDSA", headers={"kid": self.jwk["kid"]})


class JwksKeys:
    """The issuer's public keys, from a JWKS file or URL, re-read (at most every 30 s) for an unknown key id."""

    def __init__(self, file: Path | None = None, url: str = "") -> None:
        if (file is None) == (not url):
            raise ValueError("give a JWKS file or a JWKS URL, one of them")
        self.file, self.url = file, url
        self.source = str(file) if file is not None else url
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._loaded_at = float("-inf")

    def _read(self) -> dict[str, Any]:
        if self.file is not None:
            return json.loads(self.file.read_text())
        with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 - the configured issuer
            return json.loads(response.read())

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        found = self._lookup(kid)
        if found is None and time.monotonic() - self._loaded_at > _REFRESH_EVERY:
            self._loaded_at = time.monotonic()
            try:
                document = await asyncio.to_thread(self._read)
                keys = jwt.PyJWKSet.from_dict(document).keys
            except (OSError, ValueError, jwt.PyJWKSetError) as exc:
                logger.warning("could not read the JWKS %s: %s", self.source, exc)
                return None
            self._keys = {k.key_id: k for k in keys}
            found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self._keys) == 1:  # a token without `kid` from a single-key issuer
            return next(iter(self._keys.values()))
        return self._keys.get(kid)


def _when(epoch: Any) -> str:
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return repr(epoch)


class TokenVerifier:
    def __init__(self, issuer: str, audience: str, keys: JwksKeys, algorithms: list[str],
                 leeway: float = 30, role_claim: str = "role") -> None:
        self.issuer, self.audience, self.keys = issuer, audience, keys
        self.algorithms, self.leeway, self.role_claim = algorithms, leeway, role_claim

    async def verify(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header value, or TokenRefused saying why not."""
        if not authorization:
            raise TokenRefused("no bearer token: send 'Authorization: Bearer <token>' (in dev mode "
                               "`conveyor token --user NAME --role ROLE` prints one)")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRefused("the Authorization header is not 'Bearer <token>'")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise TokenRefused(f"the bearer token is not a JWT ({exc})") from exc
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise TokenRefused(f"token algorithm {algorithm!r} is not accepted; the issuer must sign with one of "
                               f"{', '.join(self.algorithms)} (asymmetric keys only)")
        kid = header.get("kid")
        key = await self.keys.key(kid)
        if key is None:
            raise TokenRefused(f"bad signature: the token names key id {kid!r}, which the issuer's JWKS "
                               f"({self.keys.source}) does not hold")
        claims = self._decode(token, key, algorithm)
        return self._principal(claims)

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                              leeway=self.leeway, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            expired = jwt.decode(token, options={"verify_signature": False}).get("exp")
            raise TokenRefused(f"token expired at {_when(expired)}; get a new one (`conveyor login`)") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRefused(f"bad signature: the token does not verify against the issuer's key "
                               f"{key.key_id!r}") from exc
        except jwt.InvalidIssuerError as exc:
            given = jwt.decode(token, options={"verify_signature": False}).get("iss")
            raise TokenRefused(f"wrong issuer: token issuer {given!r} is not the configured {self.issuer!r}") from exc
        except jwt.InvalidAudienceError as exc:
            given = jwt.decode(token, options={"verify_signature": False}).get("aud")
            raise TokenRefused(f"wrong audience: token audience {given!r} does not include "
                               f"{self.audience!r}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRefused(f"the token has no {exc.claim!r} claim") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenRefused(f"the token is not valid yet ({exc})") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"the token does not verify: {exc}") from exc

    def _principal(self, claims: dict[str, Any]) -> Principal:
        kind_claim = claims.get("kind", Kind.USER.value)
        if kind_claim not in (Kind.USER.value, Kind.SERVICE.value):
            raise TokenRefused(f"token kind {kind_claim!r} is neither 'user' nor 'service'")
        kind = Kind(kind_claim)
        role = claims.get(self.role_claim, "")
        if isinstance(role, list):  # providers that put roles in an array: one role per token here
            if len(role) > 1:
                raise TokenRefused(f"the token carries several roles {role}; Conveyor acts under one role per "
                                   "token: ask your issuer for a token per role")
            role = role[0] if role else ""
        if not isinstance(role, str):
            raise TokenRefused(f"the token's {self.role_claim!r} claim is not a string")
        if role and role not in ROLES:
            raise TokenRefused(f"unknown role {role!r}: a token carries one of {', '.join(ROLES)}")
        if not role and kind is Kind.USER:
            raise TokenRefused(f"the token has no {self.role_claim!r} claim: a user's token carries one of "
                               f"{', '.join(ROLES)}")
        return Principal(subject=str(claims["sub"]), role=role, kind=kind, issuer=self.issuer)
