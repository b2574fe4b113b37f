"""Serves this machine's local package indexes to `docker build --network host` over loopback.

pip inside a build cannot read the host's ``file://`` indexes (they are not in the build context),
so this serves each of them under ``/<n>/`` on 127.0.0.1 and prints one line, the space-separated
index URLs to pass as PIP_EXTRA_INDEX_URL, then serves until killed. Relative links inside the
indexes (``../../files/x.whl``) keep working because each index's parent folder is served whole.

Usage: python scripts/wheel-server.py [--port N] [--check] [file:///path/to/simple ...]
Without indexes the ``file://`` URLs of ``pip config list`` (index-url, extra-index-url) are used.
A fixed port keeps the URLs, and so Docker's layer cache, the same from one build to the next; a
busy port falls back to a free one. ``--check`` only says (exit status) whether there is an index.
"""

from __future__ import annotations

import argparse
import errno
import http.server
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import ClassVar


def configured_indexes() -> list[str]:
    """The file:// index URLs in pip's configuration (the environment and config files)."""
    urls = [
        *os.environ.get("PIP_INDEX_URL", "").split(),
        *os.environ.get("PIP_EXTRA_INDEX_URL", "").split(),
    ]
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        match = re.match(r"^[\w:.]*\.?(?:extra-)?index-url='(.*)'$", line.strip())
        if match:
            urls.extend(match.group(1).split())
    return [url for url in dict.fromkeys(urls) if url.startswith("file://")]


class _Handler(http.server.SimpleHTTPRequestHandler):
    roots: ClassVar[dict[str, Path]] = {}

    def translate_path(self, path: str) -> str:
        parts = urllib.parse.unquote(urllib.parse.urlsplit(path).path).lstrip("/").split("/", 1)
        root = self.roots.get(parts[0])
        if root is None:
            return "/nonexistent"
        rest = Path(parts[1] if len(parts) > 1 else "")
        if ".." in rest.parts:
            return "/nonexistent"
        return str(root / rest)

    def log_message(self, format: str, *args: object) -> None:
        pass  # pip's own output says what it fetched


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("indexes", nargs="*")
    args = parser.parse_args(argv)
    indexes = args.indexes or configured_indexes()
    roots: ClassVar[dict[str, Path]] = {}
    urls_suffix: list[tuple[str, str]] = []
    for n, url in enumerate(indexes):
        simple = Path(urllib.parse.urlsplit(url).path)
        if not simple.is_dir():
            continue
        roots[str(n)] = simple.parent
        urls_suffix.append((str(n), simple.name))
    if not roots:
        print("wheel-server: no local file:// index found", file=sys.stderr)
        return 1
    if args.check:
        return 0
    _Handler.roots = roots
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    urls = [f"http://127.0.0.1:{port}/{key}/{name}/" for key, name in urls_suffix]
    print(" ".join(urls), flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
