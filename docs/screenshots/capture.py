"""Screenshots of the main dashboard pages from a running demo, for the README.

    qhse demo --port 8501            # in another terminal; note the admin password it prints
    python docs/screenshots/capture.py --url http://127.0.0.1:8501 --user admin --password ...

Uses Debian's Chromium (/usr/bin/chromium) through Playwright.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent
PAGES = [("overview", "Overview", None), ("risk", "Risk heatmap", None), ("alarms", "Live alarms", None),
         ("equipment", "Equipment health", None), ("vision", "PPE review", None),
         ("hazards", "Hazards and actions", "SLA board"), ("models", "Failure models", None)]


def settle(page) -> None:
    page.wait_for_load_state("networkidle", timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.match(/Running|Connecting|Stop/)",
        timeout=60_000)
    page.wait_for_timeout(1500)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8501")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", required=True)
    ap.add_argument("--height", type=int, default=1100)
    args = ap.parse_args()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = b.new_page(viewport={"width": 1440, "height": args.height}, locale="en-US")
        page.goto(args.url, timeout=90_000)
        page.get_by_role("textbox", name="Username").fill(args.user, timeout=60_000)
        page.get_by_role("textbox", name="Password").fill(args.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Signed in as").wait_for(timeout=60_000)
        settle(page)
        for key, title, tab in PAGES:
            page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
            page.get_by_role("heading", level=1, name=title).wait_for(timeout=60_000)
            settle(page)
            if tab:
                page.get_by_role("tab", name=tab).click()
                settle(page)
            page.screenshot(path=str(OUT / f"{key}.png"))
            print("wrote", OUT / f"{key}.png")
        # The overview in Simplified Chinese (switched in the sidebar, saved per user).
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Overview", exact=True).click()
        settle(page)
        page.get_by_role("combobox", name="Language").click()
        page.get_by_role("option", name="简体中文").click()
        page.get_by_role("heading", level=1, name="概览").wait_for(timeout=60_000)
        settle(page)
        page.screenshot(path=str(OUT / "overview-zh.png"))
        print("wrote", OUT / "overview-zh.png")
        page.get_by_role("combobox", name="语言").click()
        page.get_by_role("option", name="English").click()
        settle(page)
        b.close()


if __name__ == "__main__":
    main()
