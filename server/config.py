"""Server settings, read once from the environment (prefix ``CLINICDESK_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the placeholder we refuse, not a secret
DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLINICDESK_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'clinicdesk.sqlite3'}",
        description="SQLAlchemy URL: embedded SQLite by default, postgresql+psycopg://… for "
        "production.",
    )
    secret_key: str = PLACEHOLDER_SECRET
    bind_host: str = "127.0.0.1"
    bind_port: int = 8765
    device_token_days: int = Field(default=180, ge=1)
    session_hours: int = Field(default=12, ge=1)
    # Connections and threads agree: every request thread holds at most one connection,
    # and there are exactly as many threads as the pool can hand out connections, so a
    # thread never waits for a connection (see server.db).
    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=5, ge=0, le=500)
    db_pool_timeout: float = Field(default=30.0, gt=0)
    # How long a request may wait its turn to write on SQLite before it is told to retry.
    db_write_wait: float = Field(default=30.0, gt=0)
    # Addresses of reverse proxies whose X-Forwarded-For / -Proto are believed (uvicorn's
    # ``forwarded_allow_ips``): comma-separated IPs or networks, or "*" for any.
    trusted_proxies: str = "127.0.0.1"

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        weak = self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32
        if self.environment == "production" and weak:
            raise ValueError(
                "CLINICDESK_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (for example the output of: python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')."
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_threads(self) -> int:
        """Threads for request work: one per connection the pool can give out."""
        return self.db_pool_size + self.db_max_overflow


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
