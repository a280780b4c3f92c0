"""Entry point for ``python -m dcctl``."""

from dcctl.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
