"""Settings every service shares, read from CONVEYOR_* variables (nested with `__`)."""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from google.protobuf.message import Message
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import topics
from ._storage import ArtifactStore, open_store

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="", description="prepended to every topic and group name (test isolation)")
    client_id: str = "conveyor"
    max_retries: int = Field(default=3, ge=0, description="attempts after the first for a transient fault")
    retry_wait: float = Field(default=0.2, ge=0, description="seconds before the first retry; doubles each time")
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="SASL_PLAINTEXT on the local broker (SCRAM over loopback); SASL_SSL elsewhere"
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str = Field(default="", description="this client's Kafka principal (User:<name>)")
    sasl_password: SecretStr = SecretStr("")

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    def client_options(self) -> dict[str, Any]:
        """Connection options for any aiokafka client (producer, consumer, admin): the address and, on a SASL
        broker, who this client is. Every aiokafka client in Conveyor is built with these."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers,
                                   "security_protocol": self.security_protocol}
        if self.sasl:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password.get_secret_value())
        return options

    def librdkafka_options(self) -> dict[str, str]:
        """The same for librdkafka (confluent-kafka) clients."""
        options = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.sasl:
            options.update({"sasl.mechanism": self.sasl_mechanism, "sasl.username": self.sasl_username,
                            "sasl.password": self.sasl_password.get_secret_value()})
        return options

    def as_env(self) -> dict[str, str]:
        """The CONVEYOR_KAFKA__* variables that give a service process these settings (broker, prefix, who)."""
        env = {"CONVEYOR_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap_servers,
               "CONVEYOR_KAFKA__TOPIC_PREFIX": self.topic_prefix,
               "CONVEYOR_KAFKA__SECURITY_PROTOCOL": self.security_protocol}
        if self.sasl:
            env.update({"CONVEYOR_KAFKA__SASL_MECHANISM": self.sasl_mechanism,
                        "CONVEYOR_KAFKA__SASL_USERNAME": self.sasl_username,
                        "CONVEYOR_KAFKA__SASL_PASSWORD": self.sasl_password.get_secret_value()})
        return env

    def as_user(self, username: str, password: str) -> "KafkaSettings":
        """The same broker and prefix, as another principal."""
        return self.model_copy(update={"sasl_username": username, "sasl_password": SecretStr(password)})

    def topic(self, topic: str | type[Message]) -> str:
        """The full name of a topic (by base name, or the one an event class travels on): the one place the
        prefix is applied."""
        return topics.named(topic, self.topic_prefix)

    def group(self, name: str) -> str:
        """The full name of a consumer group."""
        return self.topic_prefix + name


class TelemetrySettings(BaseModel):
    service_name: str = ""
    span_file: Path | None = Field(
        default=None, description="write finished spans as JSON lines here (tests, air-gapped demos)"
    )
    span_file_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=0, description="rotate the span file at this size (3 old files kept; 0: never)"
    )


DEV_ISSUER = "urn:conveyor:dev"


class AuthSettings(BaseModel):
    """Who may call the REST API: bearer tokens (JWTs) checked against an issuer's JWKS.

    Dev mode with no issuer set: Conveyor is its own issuer (DEV_ISSUER), with a keypair and JWKS under the
    data dir (`conveyor token` mints tokens from it). Production mode refuses to start without an issuer and a
    JWKS (URL or file) from an OIDC provider.
    """

    issuer: str = Field(default="", description="the tokens' `iss`; empty in dev mode means Conveyor's own dev issuer")
    audience: str = Field(default="conveyor", description="the tokens' `aud` must contain this")
    jwks_url: str = Field(default="", description="the issuer's JWKS (e.g. <issuer>/.well-known/jwks.json)")
    jwks_file: Path | None = Field(default=None, description="a JWKS on disk, instead of a URL")
    algorithms: list[str] = Field(
        default=["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"],
        description="accepted signature algorithms: asymmetric only (an HS* token is refused)",
    )
    leeway_seconds: float = Field(default=30, ge=0, description="clock skew allowed on exp/nbf/iat")
    role_claim: str = Field(default="role", description="the claim that carries the role")
    access_file: Path | None = Field(
        default=None, description="the role -> route table (TOML); default: the kernel's access.toml"
    )

    @model_validator(mode="after")
    def _asymmetric_only(self) -> "AuthSettings":
        symmetric = [a for a in self.algorithms if a.upper().startswith("HS") or a.lower() == "none"]
        if symmetric:
            raise ValueError(f"auth.algorithms {symmetric} are not asymmetric; use RS*/PS*/ES*/EdDSA")
        return self


def _default_data_dir() -> Path:
    return Path.cwd() / "var" / "data"


class ServiceSettings(BaseSettings):
    """Settings every service shares. Each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    mode: Literal["dev", "production"] = Field(
        default="dev", description="production refuses dev shortcuts: no token issuer of its own, no dev keys"
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = Field(
        default="", description="CONVEYOR_DATABASE_URL: postgresql://user:password@host:5432/db puts every "
        "service's state in that database, each service in a schema of its own; empty: SQLite files in the data dir",
    )
    artifact_root: str = Field(
        default="", description="CONVEYOR_ARTIFACT_ROOT: where artifacts live, s3://bucket/prefix for an "
        "S3-compatible store (endpoint and credentials from the AWS_* variables boto3 reads), file:///path or a "
        "path; empty: <data_dir>/artifacts",
    )
    lease_poll_seconds: float = Field(
        default=1.0, gt=0, description="single writers (registry, audit): how often a standby tries for the writer "
        "lease, and a leader checks it still holds it",
    )
    kafka: KafkaSettings = KafkaSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    auth: AuthSettings = AuthSettings()

    @model_validator(mode="after")
    def _production_needs_an_issuer(self) -> "ServiceSettings":
        if self.mode == "production" and not (self.auth.issuer and (self.auth.jwks_url or self.auth.jwks_file)):
            raise ValueError(
                "production mode needs a token issuer: set CONVEYOR_AUTH__ISSUER and CONVEYOR_AUTH__JWKS_URL "
                "(or CONVEYOR_AUTH__JWKS_FILE) to your OIDC provider's; Conveyor issues its own tokens in dev mode only"
            )
        return self

    @property
    def token_issuer(self) -> str:
        """The issuer tokens must name: the configured one, else (dev mode) Conveyor's own."""
        return self.auth.issuer or DEV_ISSUER

    @property
    def dev_issuer_dir(self) -> Path:
        """Where dev mode keeps its token keypair and JWKS (shared by every service of the platform)."""
        return self.data_dir / "auth"

    def artifacts(self) -> ArtifactStore:
        """The artifact store every service shares (datasets, models, references): the one way in and out."""
        return open_store(self.artifact_root or self.data_dir / "artifacts")

    def database(self, service: str, filename: str) -> "URL":
        """Where `service` keeps its state: the configured database, else `filename` in its state dir."""
        from .database import resolve_url  # SQLAlchemy loads only in the services that keep state

        return resolve_url(self.database_url, self.state_dir(service), filename)

    def state_dir(self, service: str) -> Path:
        """Where one service keeps its private state (databases, caches)."""
        path = self.data_dir / service
        path.mkdir(parents=True, exist_ok=True)
        return path

