"""SharpEyes api: the composition root (FastAPI, SQLAlchemy, websocket hub, auth, media, bus, CLI)."""

__version__ = "0.1.0"
