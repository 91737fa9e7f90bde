"""The recall page(s)."""

from __future__ import annotations

from fastapi import APIRouter

from threadline.api.pages.common import PageRoute

router = APIRouter(tags=["pages"], route_class=PageRoute, include_in_schema=False)
