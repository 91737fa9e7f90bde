"""The pages people use (server-rendered HTML), one router per page or workflow.

They share :mod:`.common`: HTML errors, the login redirect, the menu for the caller's role and
the form token. The content of each page is built by :mod:`threadline.web`.
"""

from fastapi import APIRouter

from threadline.api.pages import (
    alerts,
    dashboard,
    equipment,
    graph,
    holds,
    login,
    passport,
    recall,
    search,
)

ROUTERS: tuple[APIRouter, ...] = (
    login.router,
    dashboard.router,
    search.router,
    passport.router,
    graph.router,
    recall.router,
    alerts.router,
    holds.router,
    equipment.router,
)

__all__ = ["ROUTERS"]
