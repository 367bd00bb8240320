"""Take the README's screenshot of `attire serve`'s page with the shipped model.

    python scripts/screenshot_page.py [PHOTO] [-o docs/serve-page.png]

Starts `attire serve` on a free port on 127.0.0.1, uploads PHOTO (default:
docs/product-photo.jpg) in headless Chromium (Debian's chromium and chromium-driver),
waits for the answer and saves a screenshot of the page.
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parent.parent
OPTIONS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--window-size=1000,760", "--hide-scrollbars"]


def start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "attire", "serve", "--port", "0", "--no-access-log"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        if match:
            return process, match.group(0)
    process.kill()
    raise SystemExit("attire serve printed no URL within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", type=Path, default=REPO / "docs/product-photo.jpg")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs/serve-page.png")
    args = parser.parse_args()
    process, url = start_server()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for option in OPTIONS + [f"--user-data-dir={tempfile.mkdtemp()}"]:
        options.add_argument(option)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url + "/")
        driver.find_element("id", "file-input").send_keys(str(args.photo.resolve()))
        WebDriverWait(driver, 60).until(lambda d: d.find_element("id", "answer-label").text)
        time.sleep(0.5)  # let the bars finish their transition
        driver.save_screenshot(str(args.output))
        print(f"{args.output}: {driver.find_element('id', 'answer-label').text}")
    finally:
        driver.quit()
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
