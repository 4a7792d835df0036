from __future__ import annotations

from nplint.cli import entry

if __name__ == "__main__":
    entry()
