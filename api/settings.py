"""Settings of the api server, from the environment (SHARPEYES_*) or the command line.

Outside development mode a secret must be given: a default one would let anyone forge tokens.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.errors import ApiError

DEV_SECRET = "dev-only-secret-change-me"
PLACEHOLDER_SECRETS = ("change-me", "changeme", "dev-only-secret")   # example values, public


class Settings(BaseSettings):
    """Everything the server needs; every field can be set as SHARPEYES_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="SHARPEYES_", extra="forbid")

    db_url: str = Field(default="sqlite:///data/sharpeyes.db",
                        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://...")
    dev: bool = Field(default=False, description="Development mode: allows the default secret")
    secret_key: str = Field(default=DEV_SECRET, description="Signs bearer tokens; required outside --dev")
    token_ttl_s: int = Field(default=12 * 3600, gt=0, description="Lifetime of a bearer token")
    media_dir: Path = Field(default=Path("data/media"), description="Folder for snapshots, clips and photos")
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, gt=0, description="Largest uploaded photo")
    max_clip_bytes: int = Field(default=200 * 1024 * 1024, gt=0,
                                description="Largest clip a worker may upload")
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0,
                                description="Largest request body other than an upload (JSON), in bytes; "
                                "counted as it arrives, 413 past it")
    max_image_pixels: int = Field(default=50_000_000, gt=0,
                                  description="Largest photo or snapshot in pixels (width x height), checked "
                                  "before decoding (decompression bombs)")
    body_timeout_s: float = Field(default=30.0, gt=0,
                                  description="A request body that stalls this long is answered 408")
    header_timeout_s: float = Field(default=10.0, gt=0,
                                    description="A connection must send its request headers within this "
                                    "long (slow clients); `sharpeyes serve --header-timeout`")
    resident_photo_bytes: int = Field(default=5 * 1024 * 1024, gt=0,
                                      description="Largest photo on the public report page (3 at most)")
    resident_reports_per_address: int = Field(
        default=5, ge=1, description="Reports one address may send from the public page per hour")
    resident_reports_per_phone: int = Field(
        default=5, ge=1, description="Reports one phone number may send from the public page per day")
    notify_interval_s: float = Field(default=2.0, gt=0,
                                     description="How often the notifier sends due notifications, in seconds")
    notify_backoff_s: float = Field(default=5.0, gt=0,
                                    description="First retry delay of a failed notification (doubles each "
                                    "time, capped at 1 h)")
    notify_max_attempts: int = Field(default=8, ge=1,
                                     description="Attempts before a notification goes to the "
                                     "dead-letter list")
    policy_path: Path | None = Field(
        default=None, description="YAML policy (event type -> category, ...); built-in default when unset"
    )
    patrol_policy_path: Path | None = Field(
        default=None,
        description="Patrol policy YAML (categories, deadlines, "
        "working-day calendar; the shape of patrol/policy.yaml); packaged default when unset",
    )
    site_path: Path | None = Field(default=None, description="Patrol site YAML (places, links, grids)")
    viid_config: Path | None = Field(default=None, description="GA/T 1400 视图库 config (devices, structured "
                                     "cameras and their rules, docs/gat1400.md); unset: /VIID is off")
    login_attempts_per_minute: int = Field(
        default=10, gt=0, description="Failed logins allowed per user and address per minute"
    )
    login_failures_per_address: int = Field(
        default=30, gt=0, description="Failed logins allowed per address per minute, whatever the user names "
        "(a spray over many accounts); then 429")
    login_lockout_after: int = Field(
        default=10, gt=0, description="Failed logins in a row of one account, from any address, after which "
        "each further failure makes its next try wait 2^k s (1, 2, 4, ...); a success clears it")
    login_lockout_max_s: float = Field(
        default=900.0, gt=0, description="Longest wait of an account's lockout, in seconds")
    trusted_proxies: str = Field(
        default="", description="Comma-separated addresses of reverse proxies whose X-Forwarded-For is "
        "believed (the client address for the login limits and the audit log); empty: none, the peer's "
        "address is used")
    dashboard_dir: Path | None = Field(
        default=None,
        description="Static dashboard folder; default: dashboard/ next to the package if present",
    )
    bus: str = Field(default="memory",
                     description="Event bus: memory (in-process) or redis (fan-out across replicas)")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL for the redis bus")
    lease_url: str = Field(
        default="",
        description="redis://... or postgresql+psycopg://...: background jobs run on one replica at a time; "
        "empty: here",
    )
    stream_ingest: bool = Field(default=False,
                                description="Also read worker events from the Redis stream (docs/deploy.md)")
    stream_shards: int = Field(
        default=8,
        gt=0,
        le=256,
        description="Shards of the event stream (the same on every replica and worker)",
    )
    mqtt_host: str = Field(default="", description="MQTT broker host for integrations; empty: no MQTT")
    mqtt_port: int = Field(default=1883, gt=0, description="MQTT broker port")
    mqtt_prefix: str = Field(default="sharpeyes", description="MQTT topic prefix")
    sensors_mqtt: bool = Field(
        default=False, description="Subscribe to sensor readings and alarms and to elevator acknowledgements "
        "on the MQTT broker (mqtt_host; docs/sensors.md); off: sensors post over HTTP only")
    sensor_sweep_s: float = Field(default=60.0, gt=0, description="How often silent devices and silent "
                                  "关爱 water meters are checked, in seconds")
    simulation: bool = Field(
        default=False, description="Teams are simulated (sharpeyes demo --simulate-teams); pages label it"
    )
    media_snapshot_days: float = Field(default=30.0, gt=0, description="Keep camera snapshots this many "
                                       "days unless the camera says otherwise (cameras page)")
    media_clip_days: float = Field(default=7.0, gt=0, description="Keep camera clips this many days unless "
                                   "the camera says otherwise (cameras page)")
    media_quota_mb: float = Field(default=0.0, ge=0, description="Disk quota for camera snapshots and clips "
                                  "in MB; the oldest are removed first (rows kept, marked gone); 0: none")
    media_retention_check_s: float = Field(default=300.0, gt=0,
                                           description="How often media older than their days are removed")
    deadline_check_s: float = Field(default=15.0, gt=0,
                                    description="How often the patrol job checks deadlines "
                                    "(escalation) and acknowledgement timeouts, in seconds")

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if not self.dev and self.secret_key == DEV_SECRET:
            raise ApiError(
                "no secret key: set SHARPEYES_SECRET_KEY to a long random string (or run with --dev for "
                "development)"
            )
        if self.sensors_mqtt and not self.mqtt_host:
            raise ApiError("sensors_mqtt needs a broker: set SHARPEYES_MQTT_HOST (e.g. 127.0.0.1)")
        if not self.dev and any(p in self.secret_key.lower() for p in PLACEHOLDER_SECRETS):
            raise ApiError("SHARPEYES_SECRET_KEY is the example's placeholder: set it to a long random "
                           "string (python -c 'import secrets; print(secrets.token_urlsafe(48))')")
        if len(self.secret_key) < 16:
            raise ApiError("SHARPEYES_SECRET_KEY is too short: use at least 16 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")
