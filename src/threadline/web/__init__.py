"""Server-rendered pages (Jinja2) and the static assets they use, all served by the package.

Nothing loads from the internet: templates live in ``web/templates`` and the stylesheet in
``web/static`` (served at ``/static``). For now the one page is the object passport, which is
also what the GS1 Digital Link resolver shows a browser.
"""

from threadline.web.pages import STATIC_DIR, render_page
from threadline.web.passport import Passport, build_passport

__all__ = ["STATIC_DIR", "Passport", "build_passport", "render_page"]
