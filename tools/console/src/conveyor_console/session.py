"""Signing in: the console holds the user's bearer token in an HttpOnly cookie and sends it, unchanged, on every
call it makes to the services; it verifies the token as the services do (same issuer, same JWKS), only to know
the role it renders for. It has no credentials of its own and can do nothing the user cannot.

- Sign in with a token (from your OIDC provider, or `conveyor token`); in dev mode also by name and role, minted
  by the platform's dev issuer, exactly as `conveyor login` does.
- The cookie is SameSite=Strict, and a form post must come from the console's own origin (Sec-Fetch-Site or
  Origin): another site cannot make the browser act with it.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from conveyor_kernel import Principal
from conveyor_kernel.identity import DevIssuer, TokenRefused, TokenVerifier, token_verifier

from .settings import ConsoleSettings

COOKIE = "conveyor_session"
HOME = {"data_scientist": "/scientist", "manager": "/manager", "tech_leader": "/leader", "auditor": "/auditor",
        "admin": "/ops", "privacy_officer": "/events"}


class SignInNeeded(Exception):  # noqa: N818 - a redirect, not an error the user made
    """No session, or its token expired or no longer verifies: back to the sign-in page, saying why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)


@dataclass(frozen=True)
class Session:
    token: str
    principal: Principal

    @property
    def home(self) -> str:
        return HOME.get(self.principal.role, "/events")


class Sessions:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.verifier: TokenVerifier = token_verifier(settings)

    async def open(self, token: str) -> Session:
        return Session(token, await self.verifier.verify(f"Bearer {token.strip()}"))

    def mint(self, user: str, role: str) -> str:
        """Dev mode only: a token from the platform's own issuer, as `conveyor login` would store."""
        if self.settings.mode != "dev" or self.settings.auth.issuer:
            raise PermissionError("signing in by name is for dev mode; paste a token from your identity provider")
        issuer = DevIssuer.ensure(self.settings.dev_issuer_dir, audience=self.settings.auth.audience)
        return issuer.mint(user, role, ttl=self.settings.session_hours * 3600)


async def current_session(request: Request) -> Session:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded("sign in to continue")
    try:
        return await request.app.state.sessions.open(token)
    except TokenRefused as exc:
        raise SignInNeeded(f"your session ended: {exc}") from exc


def same_origin(request: Request) -> None:
    """A state-changing form post must come from the console's own pages."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(403, f"refused a cross-site form post (Sec-Fetch-Site: {site})")
    if site is None and origin is not None and origin != str(request.base_url).rstrip("/"):
        raise HTTPException(403, f"refused a form post from {origin}")


SessionDep = Annotated[Session, Depends(current_session)]
SameOrigin = Depends(same_origin)
