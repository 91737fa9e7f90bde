"""The pages people use (server-rendered HTML), one router per page or workflow.

They share :mod:`.common`: HTML errors, the login redirect, the menu for the caller's role and
the form token. The content of each page is built by :mod:`threadline.web`.
"""

from fastapi import APIRouter

from threadline.api.pages import login, passport

ROUTERS: tuple[APIRouter, ...] = (login.router, passport.router)

__all__ = ["ROUTERS"]
