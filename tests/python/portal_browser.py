"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright. A person
signs in on the issuer's page, sees the registries they may read, narrows them with the
filter, and signs out; the pages load nothing from elsewhere and raise no CSP violation
(the browser reports one as a console error), and work at 375 px wide. Screenshots of each
page go to BERTH_SCREENSHOTS, for a person to look at.
"""

import os
import sys

from playwright.sync_api import sync_playwright

base = os.environ["BERTH_URL"]
user = os.environ["BERTH_USER"]
password = os.environ["BERTH_PASSWORD"]
signer = os.environ["BERTH_SIGNER"]
shots = os.environ["BERTH_SCREENSHOTS"]
os.makedirs(shots, exist_ok=True)

problems = []
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    )
    # berthd's development certificate is its own CA's; TLS itself is checked by the other tests.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"off-site request: {r.url}")
            if not r.url.startswith(base) and not r.url.startswith("http://localhost") else None)

    page.goto(f"{base}/portal")
    assert "/oauth2/v2.0/authorize" in page.url, page.url
    assert page.title() == "Sign in · Berth", page.title()
    page.screenshot(path=f"{shots}/sign-in.png", full_page=True)
    # By keyboard alone: the user name field, the password, then Enter.
    page.get_by_label("User name (UPN)").fill(user)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/portal")
    assert page.title() == "Container registries · Berth", page.title()
    rows = page.locator("tbody tr")
    names = [rows.nth(i).locator("th").inner_text() for i in range(rows.count())]
    assert names == ["portalone", "portalthree"], names
    page.screenshot(path=f"{shots}/registries.png", full_page=True)

    page.get_by_label("Filter by name").fill("three")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/portal?filter=three")
    assert page.locator("tbody tr").count() == 1

    # Policies › Content trust, as the seed page shows it: Enabled › Save, then Disabled ›
    # Save, the warning, OK.
    page.goto(f"{base}/portal")
    page.get_by_role("link", name="portalthree").click()
    assert page.title() == "portalthree · Overview · Berth", page.title()
    assert "az acr login --name portalthree" in page.content()
    page.screenshot(path=f"{shots}/overview.png", full_page=True)
    page.get_by_role("link", name="Policies › Content trust").click()
    assert page.title() == "Content trust · portalthree · Berth", page.title()
    page.get_by_label("Enabled").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.get_by_label("Enabled").is_checked(), "saved as enabled"
    page.screenshot(path=f"{shots}/content-trust.png", full_page=True)

    # Access control (IAM) › Add › Add role assignment: AcrImageSigner, then the member,
    # found as the name is typed (htmx refreshes the list; no button pressed).
    page.get_by_role("link", name="Access control (IAM)").click()
    assert page.title() == "Access control (IAM) · portalthree · Berth", page.title()
    page.get_by_role("link", name="Add role assignment").click()
    page.get_by_label("AcrImageSigner").check()
    page.get_by_label("Find a user, group or service principal").press_sequentially(signer[:8], delay=40)
    member = page.get_by_role("radio", name=signer)
    member.wait_for(timeout=5000)
    member.check()
    page.screenshot(path=f"{shots}/add-role-assignment.png", full_page=True)
    page.get_by_role("button", name="Review", exact=True).click()
    page.get_by_role("button", name="Review + assign").click()
    page.get_by_text("Added: AcrImageSigner.").wait_for()
    page.get_by_label("User, group or service principal").fill(signer)
    page.get_by_role("button", name="Check access").click()
    page.get_by_text("AcrImageSigner at This registry").wait_for()
    page.screenshot(path=f"{shots}/access-control.png", full_page=True)
    page.get_by_role("link", name="Access keys").click()
    assert page.title() == "Access keys · portalthree · Berth", page.title()
    page.screenshot(path=f"{shots}/access-keys.png", full_page=True)
    page.get_by_role("link", name="Policies › Content trust").click()
    page.get_by_label("Disabled").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    warning = page.get_by_role("heading", name="Disable content trust?")
    assert warning.is_visible(), page.content()
    page.screenshot(path=f"{shots}/content-trust-warning.png", full_page=True)
    page.get_by_role("button", name="OK").click()
    page.wait_for_load_state()
    # The page refreshes itself while the wipe runs (no script: the CSP allows none, not
    # even Playwright's evaluated predicates); wait until its progress note is gone.
    page.locator("[role=status]").wait_for(state="detached", timeout=15000)
    page.wait_for_load_state()
    assert page.get_by_label("Disabled").is_checked(), "saved as disabled"
    page.screenshot(path=f"{shots}/content-trust-disabled.png", full_page=True)

    narrow = context.new_page()
    narrow.set_viewport_size({"width": 375, "height": 800})
    narrow.goto(f"{base}/portal")
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px: {width}"
    narrow.screenshot(path=f"{shots}/registries-375.png", full_page=True)
    narrow.close()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/portal/signed-out")
    assert page.title() == "You have signed out · Berth", page.title()
    page.screenshot(path=f"{shots}/signed-out.png", full_page=True)
    page.goto(f"{base}/portal")
    assert "/oauth2/v2.0/authorize" in page.url, "signed out: back to sign-in"
    browser.close()

assert not problems, problems
print(f"portal in Chromium: screenshots in {shots}")
sys.exit(0)
