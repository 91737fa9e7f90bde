"""One router per resource; :func:`threadline.api.app.create_app` includes them all."""
