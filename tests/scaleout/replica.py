"""One api replica for the fault and load test: settings from SHARPEYES_* variables, uvicorn on --port."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from api.app import create_app
from api.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format=f"%(asctime)s api:{args.port} %(levelname)s %(name)s: %(message)s")
    app = create_app(Settings())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", ws_ping_interval=5,
                ws_ping_timeout=5)


if __name__ == "__main__":
    main()
