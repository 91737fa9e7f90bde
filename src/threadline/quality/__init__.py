"""Quality: specification limits, alerts on out-of-spec readings, holds and error-proofing.

Rules only: every row is read and written through :mod:`threadline.store.quality`; nothing
here imports a database driver, FastAPI or Typer.
"""
