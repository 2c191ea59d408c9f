"""Headless Chromium (Debian's ``chromium`` package) for checking the run report as a browser shows it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium writes a page's console messages to stderr with --enable-logging=stderr, one per line:
#   [..:INFO:CONSOLE(3)] "Uncaught ReferenceError: x is not defined", source: file:///tmp/r.html (3)
_CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR):CONSOLE[^\]]*\]\s*(.*)")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def render(page: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2400,
           timeout: float = 120) -> tuple[str, list[str]]:
    """(the DOM after the page loaded, its console messages); also a PNG screenshot when asked."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    profile = page.parent / ".chromium-profile"
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", f"--window-size={width},{height}"]
    env = {**os.environ, "HOME": str(page.parent)}
    dom = subprocess.run([*base, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=timeout, env=env)
    if dom.returncode != 0:
        raise RuntimeError(f"chromium exited {dom.returncode}: {dom.stderr[-2000:]}")
    console = [m.group(1) for m in map(_CONSOLE.search, dom.stderr.splitlines()) if m]
    if screenshot is not None:
        shot = subprocess.run([*base, f"--screenshot={screenshot}", "--hide-scrollbars", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout, env=env)
        if shot.returncode != 0 or not screenshot.exists():
            raise RuntimeError(f"chromium screenshot failed ({shot.returncode}): {shot.stderr[-2000:]}")
    shutil.rmtree(profile, ignore_errors=True)
    return dom.stdout, console


if __name__ == "__main__":  # make report-screenshot: python -m tests.browser REPORT.html OUT.png
    import sys

    _dom, messages = render(Path(sys.argv[1]), screenshot=Path(sys.argv[2]))
    for message in messages:
        print(f"console: {message}", file=sys.stderr)
    print(f"{sys.argv[2]}: screenshot of {sys.argv[1]}" + (f", {len(messages)} console messages" if messages else ""))
    sys.exit(1 if messages else 0)
