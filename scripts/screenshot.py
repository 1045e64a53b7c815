"""Log in to a running portal and save full-page screenshots of the given paths (a developer's check).

    .venv/bin/python scripts/screenshot.py --user officer /people/ /audit/ --out /tmp/shots
"""

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="vmcensus-demo")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "vmcensus-shots")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(f"{args.base}/accounts/login/")
        page.fill("input[name=username]", args.user)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        for path in args.paths:
            page.goto(args.base + path)
            page.wait_for_load_state("networkidle")
            name = args.user + "_" + (path.strip("/").replace("/", "_").replace("?", "_") or "dashboard") + ".png"
            page.screenshot(path=str(args.out / name), full_page=True)
            print(args.out / name)
        browser.close()


if __name__ == "__main__":
    main()
