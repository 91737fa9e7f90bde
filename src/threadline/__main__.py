"""``python -m threadline``."""

from threadline.cli import main

main()
