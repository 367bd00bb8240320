"""The page in real headless Chromium (Selenium 4): upload a photo, read the answer off the page."""

import os
from pathlib import Path

import pytest
from PIL import Image

from attire.data import CLASS_NAMES
from serve_fixtures import labelled_images, png, server, tiny_model  # noqa: F401 (fixtures)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 60
CHROME_OPTIONS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--window-size=1100,900"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by Debian's chromedriver; Selenium Manager never downloads anything."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing on CI: .ci/run must install them")
        pytest.skip("apt-get install chromium chromium-driver to run the browser tests")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for option in CHROME_OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def wait_for_answer(browser, previous: str = "") -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    def answered(driver):
        error = driver.find_element("id", "error")
        assert not error.is_displayed(), f"the page shows an error: {error.text}"
        label = driver.find_element("id", "answer-label").text
        return label if label and driver.find_element("id", "status").text == "" and label != previous else False

    return WebDriverWait(browser, WAIT_S).until(answered)


def test_uploading_a_photo_shows_the_answer_the_view_and_ten_bars(browser, server, labelled_images, tmp_path):
    browser.get(server.url + "/")
    assert "attire" in browser.title
    images, labels = labelled_images
    for index in (0, 7):  # classes 0 and 3: the second answer must replace the first
        path = tmp_path / f"garment-{index}.png"
        path.write_bytes(png(images[index]))
        browser.find_element("id", "file-input").send_keys(str(path))
        previous = CLASS_NAMES[labels[0]] if index else ""
        assert wait_for_answer(browser, previous) == CLASS_NAMES[labels[index]]
        assert browser.find_element("id", "answer-label").get_attribute("data-class-index") == str(labels[index])
    bars = browser.find_elements("css selector", "#bars li")
    assert [bar.find_element("css selector", ".bar-label").text for bar in bars] == list(CLASS_NAMES)
    winners = browser.find_elements("css selector", "#bars li.winner .bar-label")
    assert [w.text for w in winners] == [CLASS_NAMES[labels[7]]]
    # Both pictures are drawn: the upload and the 28×28 view the model got.
    for image_id in ("photo", "model-view"):
        width = browser.execute_script(f"return document.getElementById('{image_id}').naturalWidth")
        assert width > 0, image_id
    assert browser.execute_script("return document.getElementById('model-view').naturalWidth") == 28
    assert "cnn" in browser.find_element("id", "model-info").text


def test_a_bad_file_shows_the_servers_message(browser, server, tmp_path):
    browser.get(server.url + "/")
    path = tmp_path / "notes.png"
    path.write_bytes(b"this is not a picture")
    browser.find_element("id", "file-input").send_keys(str(path))
    from selenium.webdriver.support.ui import WebDriverWait
    error = WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element("id", "error").is_displayed() and driver.find_element("id", "error"))
    assert "is not an image attire can read" in error.text


def test_the_random_sample_button_shows_the_true_label(browser, server, real_data):
    browser.get(server.url + "/")
    browser.find_element("id", "sample-button").click()
    wait_for_answer(browser)
    truth = browser.find_element("id", "true-label").text
    assert truth.startswith("True label: ") and any(name in truth for name in CLASS_NAMES)


def test_the_page_fetches_nothing_from_other_hosts_and_fits_a_phone(browser, server, tmp_path):
    browser.get(server.url + "/")
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(url.startswith(server.url) for url in resources), resources
    browser.set_window_size(390, 844)  # a phone's viewport
    try:
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than a phone's screen"
        photo = tmp_path / "wide.jpg"
        Image.new("RGB", (1600, 900), "white").save(photo)
        browser.find_element("id", "file-input").send_keys(str(photo))
        wait_for_answer(browser)
        assert browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth") <= 0
    finally:
        browser.set_window_size(1100, 900)
