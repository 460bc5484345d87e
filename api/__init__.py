"""SharpEyes api: the composition root (FastAPI, SQLAlchemy, websocket hub, auth, media, bus, CLI)."""
