#!/usr/bin/env python
"""Screenshots of the HTML evaluation report and comparison for the README (``docs/eval_*.png``).

Renders the pages of two results files with ``lavr report``'s and ``lavr compare``'s code, opens them in
headless Chromium (Debian's ``chromium`` + ``chromium-driver``, as the tests do) and saves the top of the report,
its failure gallery (one trace unfolded) and the comparison, as palette PNGs to keep them small.

    python scripts/report_screenshots.py RESULTS.jsonl --compare A.jsonl B.jsonl [--out docs] [--images DIR]

The report page shows RESULTS (pick a run with wrong answers: the gallery is the point); A is the comparison's
baseline.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

WIDTH = 1300


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},1000", f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                "--hide-scrollbars"):
        opts.add_argument(arg)
    return webdriver.Chrome(options=opts, service=Service(executable_path=shutil.which("chromedriver")))


def save(driver, path: Path, *, height: int, scroll_to: str | None = None) -> None:
    """The viewport (``WIDTH`` x ``height``), scrolled to an element, as a 256-colour PNG."""
    from PIL import Image

    driver.set_window_size(WIDTH, height)
    if scroll_to:
        driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", scroll_to)
    png = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    png.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path}: {png.width}x{png.height}, {path.stat().st_size / 1024:.0f} KB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"), required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--images", type=Path, action="append", default=[])
    args = parser.parse_args()

    from lavr.eval.html_report import write_compare_page, write_report_page

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_report_page(args.results, folder / "report.html", image_folders=args.images)
        write_compare_page(*args.compare, folder / "diff.html", image_folders=args.images)
        driver = browser(folder / "profile")
        try:
            driver.get((folder / "report.html").as_uri())
            save(driver, args.out / "eval_report.png", height=1100)
            driver.execute_script("var d = document.querySelector('#gallery details.trace'); if (d) d.open = true;")
            save(driver, args.out / "eval_report_gallery.png", height=1000, scroll_to="#failures")
            driver.get((folder / "diff.html").as_uri())
            save(driver, args.out / "eval_compare.png", height=1100)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
