"""The chat page in headless Chromium (Debian's chromium + chromedriver, driven by selenium).

Usage: python3 browser_chat.py BASE_URL SCREENSHOT_DIR
Sends two messages through the page at temperature 0, checks each streamed answer equals
the API's greedy answer for the same conversation, that tokens/s is shown, and that the
answer's bubble in the screenshot has text drawn in it. Exits 0 when every check passes.
Run by host-cli/tests/serve_browser.rs.
"""

import io
import json
import os
import sys
import tempfile
import urllib.request

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE, OUT = sys.argv[1], sys.argv[2]
MAX_TOKENS = 24


def api_answer(messages):
    body = json.dumps({"messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS}).encode()
    req = urllib.request.Request(BASE + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"]


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1000,800",
             "--user-data-dir=" + tempfile.mkdtemp(prefix="edgellm-chromium-")]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    wait = WebDriverWait(driver, 120)
    driver.get(BASE + "/")
    wait.until(lambda d: "tokens of context" in d.find_element(By.ID, "model").text)
    print("ok   the page loaded the model: " + driver.find_element(By.ID, "model").text)
    driver.execute_script(
        "document.getElementById('temperature').value = '0';"
        f"document.getElementById('max_tokens').value = '{MAX_TOKENS}';")

    conversation = []
    for turn, text in enumerate(["What is the capital of France?", "And of Italy?"], start=1):
        box = driver.find_element(By.ID, "input")
        box.send_keys(text)
        driver.find_element(By.ID, "send").click()
        # Done when the send button is enabled again and the stats line has the final rate.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg.assistant")) == turn
                   and d.find_element(By.ID, "send").is_enabled()
                   and d.find_element(By.ID, "stats").get_attribute("data-tokens-per-second"))
        errors = driver.find_elements(By.CSS_SELECTOR, ".msg.error")
        if errors:
            fail("the page showed an error: " + errors[0].text)
        bubble = driver.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]
        shown = driver.execute_script("return arguments[0].textContent", bubble)
        conversation += [{"role": "user", "content": text}]
        want = api_answer(conversation)
        conversation += [{"role": "assistant", "content": want}]
        if shown != want:
            fail(f"turn {turn}: the page shows {shown!r}, the API answers {want!r}")
        print(f"ok   turn {turn}: streamed answer equals the API's: {shown!r}")
        stats = driver.find_element(By.ID, "stats").text
        rate = float(driver.find_element(By.ID, "stats").get_attribute("data-tokens-per-second"))
        if "tokens/s" not in stats or rate <= 0:
            fail("no tokens/s shown: " + stats)
        print("ok   stats: " + stats)
        if turn == 2 and "cached" in stats and " (0 cached)" in stats:
            fail("the second turn reused no cached tokens: " + stats)

    os.makedirs(OUT, exist_ok=True)
    page_png = os.path.join(OUT, "chat-page.png")
    driver.save_screenshot(page_png)
    # The answer is drawn: its bubble in the screenshot holds dark (text) pixels on light.
    bubble = driver.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]
    shot = Image.open(io.BytesIO(bubble.screenshot_as_png)).convert("L")
    dark = sum(1 for p in shot.getdata() if p < 100)
    light = sum(1 for p in shot.getdata() if p > 200)
    if dark < 50 or light < dark:
        fail(f"the answer bubble has no drawn text ({dark} dark, {light} light pixels)")
    print(f"ok   the answer bubble shows text ({dark} dark pixels); screenshot {page_png}")
    print("browser checks passed")
finally:
    driver.quit()
