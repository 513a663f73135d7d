"""Bearer tokens: what verifies, and the reason given for each token that does not."""

import json
import stat
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conveyor_kernel import _tokens as tokens
from conveyor_kernel._settings import DEV_ISSUER
from conveyor_kernel._tokens import JwksKeys
from conveyor_kernel.identity import DATA_SCIENTIST, MANAGER, DevIssuer, Kind, TokenRefused, TokenVerifier

ALGORITHMS = ["RS256", "ES256", "EdDSA"]


@pytest.fixture
def issuer(tmp_path) -> DevIssuer:
    return DevIssuer.ensure(tmp_path / "auth")


@pytest.fixture
def verifier(issuer) -> TokenVerifier:
    return TokenVerifier(DEV_ISSUER, "conveyor", JwksKeys(file=issuer.jwks_path), ALGORITHMS)


async def refusal(verifier: TokenVerifier, header: str | None) -> str:
    with pytest.raises(TokenRefused) as refused:
        await verifier.verify(header)
    return str(refused.value)


async def test_a_good_token_names_its_subject_role_and_issuer(issuer, verifier):
    principal = await verifier.verify(f"Bearer {issuer.mint('alice', MANAGER)}")
    assert (principal.subject, principal.role, principal.kind, principal.issuer) == (
        "alice", MANAGER, Kind.USER, DEV_ISSUER)
    service = await verifier.verify(f"Bearer {issuer.mint('label-feed', kind=Kind.SERVICE)}")
    assert (service.subject, service.role, service.kind) == ("label-feed", "", Kind.SERVICE)
    listed = await verifier.verify(f"bearer {issuer.mint('bo', **{'role': [DATA_SCIENTIST]})}")
    assert listed.role == DATA_SCIENTIST


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": 1000}, "token expired at 1970-01-01T00:16:40+00:00"),
    ({"iss": "https://evil.example"}, "wrong issuer: token issuer 'https://evil.example' is not the configured"),
    ({"aud": "another-app"}, "wrong audience: token audience 'another-app' does not include 'conveyor'"),
    ({"role": "ceo"}, "unknown role 'ceo': a token carries one of data_scientist, manager"),
    ({"role": [MANAGER, DATA_SCIENTIST]}, "several roles"),
    ({"role": ""}, "the token has no 'role' claim"),
    ({"kind": "robot"}, "token kind 'robot' is neither 'user' nor 'service'"),
    ({"nbf": int(time.time()) + 3600}, "not valid yet"),
])
async def test_a_bad_claim_is_refused_with_its_reason(issuer, verifier, claims, reason):
    role, others = claims.get("role", MANAGER), {k: v for k, v in claims.items() if k != "role"}
    assert reason in await refusal(verifier, f"Bearer {issuer.mint('alice', role, **others)}")


async def test_a_missing_subject_is_named(issuer, verifier):
    key = Ed25519PrivateKey.from_private_bytes(issuer._key.private_bytes_raw())
    token = jwt.encode({"iss": DEV_ISSUER, "aud": "conveyor", "exp": 2**31, "role": MANAGER}, key,
                       algorithm="EdDSA", headers={"kid": issuer.jwk["kid"]})
    assert "no 'sub' claim" in await refusal(verifier, f"Bearer {token}")


async def test_missing_malformed_and_foreign_tokens_are_refused_with_their_reason(issuer, verifier):
    assert "no bearer token" in await refusal(verifier, None)
    assert "is not 'Bearer <token>'" in await refusal(verifier, "Basic YWxpY2U6c2VjcmV0")
    assert "is not a JWT" in await refusal(verifier, "Bearer not.a.jwt")
    forged = jwt.encode({"iss": DEV_ISSUER, "aud": "conveyor", "sub": "m", "role": MANAGER, "exp": 2**31},
                        Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": issuer.jwk["kid"]})
    assert "bad signature: the token does not verify" in await refusal(verifier, f"Bearer {forged}")
    unknown = jwt.encode({"sub": "m"}, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "k2"})
    assert "names key id 'k2', which the issuer's JWKS" in await refusal(verifier, f"Bearer {unknown}")
    shared_secret = jwt.encode({"iss": DEV_ISSUER, "aud": "conveyor", "sub": "m", "role": MANAGER, "exp": 2**31},
                               "the JWKS is public, so never an HMAC key", algorithm="HS256")
    assert "algorithm 'HS256' is not accepted" in await refusal(verifier, f"Bearer {shared_secret}")


async def test_a_rotated_key_is_picked_up_from_the_jwks(tmp_path, monkeypatch):
    old, new = DevIssuer.ensure(tmp_path / "old"), DevIssuer.ensure(tmp_path / "new")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [old.jwk]}))
    verifier = TokenVerifier(DEV_ISSUER, "conveyor", JwksKeys(file=jwks), ALGORITHMS)
    assert (await verifier.verify(f"Bearer {old.mint('a', MANAGER)}")).subject == "a"
    jwks.write_text(json.dumps({"keys": [old.jwk, new.jwk]}))  # the issuer rotates
    monkeypatch.setattr(tokens, "_REFRESH_EVERY", 0.0)
    assert (await verifier.verify(f"Bearer {new.mint('b', MANAGER)}")).subject == "b"


def test_the_dev_issuer_keeps_its_key_private_and_stable(tmp_path):
    first = DevIssuer.ensure(tmp_path / "auth")
    again = DevIssuer.ensure(tmp_path / "auth")
    assert first.jwk["kid"] == again.jwk["kid"]
    mode = stat.S_IMODE((tmp_path / "auth" / DevIssuer.KEY_FILE).stat().st_mode)
    assert mode == 0o600
    published = json.loads(first.jwks_path.read_text())["keys"]
    assert [k["kty"] for k in published] == ["OKP"] and "d" not in published[0]  # the public half only
