"""WeChat Pay v3 routes (filled in below the core)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
