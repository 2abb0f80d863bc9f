"""The yardstick for the server bench: FastAPI with one plain endpoint and nothing else,
served by uvicorn the same way (``python -m uvicorn tests.bench.bare_app:app``)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
def bare() -> dict[str, bool]:
    return {"ok": True}
