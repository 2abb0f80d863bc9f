"""The published OpenAPI schema, made to describe what the server really answers."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    pass
