"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright. A person
signs in on the issuer's page, sees the registries they may read, narrows them with the
filter, does the seed page's three portal steps, creates a registry (its name checked as it
is typed) and deletes it (typed confirmation, then the operation's progress), and signs out.
The pages load nothing from elsewhere and raise no CSP violation (the browser reports one as
a console error), work at 375 px wide, and pass axe-core (BERTH_AXE, from npm, run in the
same browser on every page visited) with no serious or critical violation. Screenshots of
each page go to BERTH_SCREENSHOTS, for a person to look at.
"""

import os
import sys

from playwright.sync_api import sync_playwright

base = os.environ["BERTH_URL"]
user = os.environ["BERTH_USER"]
password = os.environ["BERTH_PASSWORD"]
signer = os.environ["BERTH_SIGNER"]
shots = os.environ["BERTH_SCREENSHOTS"]
group = os.environ["BERTH_NEW_REGISTRY_GROUP"]
signed_repository = os.environ["BERTH_SIGNED_REPOSITORY"]
os.makedirs(shots, exist_ok=True)
with open(os.environ["BERTH_AXE"], encoding="utf-8") as f:
    AXE = f.read()

problems = []
audited = []


def look(page, name):
    """A screenshot of the page, and axe-core's check of it (evaluated through the DevTools
    protocol, which the page's CSP does not govern; the page itself runs no inline script)."""
    page.screenshot(path=f"{shots}/{name}.png", full_page=True)
    page.evaluate(AXE)
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    for v in result["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in v["nodes"]][:3]
            problems.append(f"axe on {name}: {v['id']} ({v['impact']}): {v['help']} at {targets}")
    audited.append(name)

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    )
    # berthd's development certificate is its own CA's; TLS itself is checked by the other tests.
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("request", lambda r: problems.append(f"off-site request: {r.url}")
            if not r.url.startswith(base) and not r.url.startswith("http://localhost") else None)

    page.goto(f"{base}/portal")
    assert "/oauth2/v2.0/authorize" in page.url, page.url
    assert page.title() == "Sign in · Berth", page.title()
    look(page, "sign-in")
    # By keyboard alone: the user name field, the password, then Enter.
    page.get_by_label("User name (UPN)").fill(user)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/portal")
    assert page.title() == "Container registries · Berth", page.title()
    rows = page.locator("tbody tr")
    names = [rows.nth(i).locator("th").inner_text() for i in range(rows.count())]
    assert names == ["portalsigned", "portalone", "portalthree"], names
    look(page, "registries")

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
    look(page, "overview")
    page.get_by_role("link", name="Policies › Content trust").click()
    assert page.title() == "Content trust · portalthree · Berth", page.title()
    page.get_by_label("Enabled").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert page.get_by_label("Enabled").is_checked(), "saved as enabled"
    look(page, "content-trust")

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
    look(page, "add-role-assignment")
    page.get_by_role("button", name="Review", exact=True).click()
    page.get_by_role("button", name="Review + assign").click()
    page.get_by_text("Added: AcrImageSigner.").wait_for()
    page.get_by_label("User, group or service principal").fill(signer)
    page.get_by_role("button", name="Check access").click()
    page.get_by_text("AcrImageSigner at This registry").wait_for()
    look(page, "access-control")
    page.get_by_role("link", name="Access keys").click()
    assert page.title() == "Access keys · portalthree · Berth", page.title()
    look(page, "access-keys")
    # The admin user on, then its passwords, shown in the answer to that POST only.
    page.get_by_role("button", name="Enable admin user").click()
    page.get_by_role("button", name="Show passwords").click()
    page.get_by_text("The admin user's passwords (shown on this page only)").wait_for()
    look(page, "access-keys-shown")
    page.get_by_role("link", name="Tokens").click()
    assert page.title() == "Tokens · portalthree · Berth", page.title()
    look(page, "tokens")
    page.get_by_label("Token name").fill("ci-robot")
    page.get_by_label("Scope map").select_option("_repositories_pull")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Save these now: they are not shown again").wait_for()
    look(page, "token-created")
    page.get_by_role("link", name="Scope maps").click()
    assert page.title() == "Scope maps · portalthree · Berth", page.title()
    look(page, "scope-maps")
    page.get_by_role("link", name="Repositories").click()
    assert page.title() == "Repositories · portalthree · Berth", page.title()
    look(page, "repositories")
    # A repository with a signed tag (the notary CLI signed it on the notary-server).
    page.goto(f"{base}{signed_repository}")
    assert page.title() == "team/app · Repositories · portalsigned · Berth", page.title()
    page.get_by_text("v1: signed by targets (key").wait_for()
    look(page, "repositories-signed")
    page.go_back()
    assert page.title() == "Repositories · portalthree · Berth", page.title()
    page.get_by_role("link", name="Policies › Content trust").click()
    page.get_by_label("Disabled").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    warning = page.get_by_role("heading", name="Disable content trust?")
    assert warning.is_visible(), page.content()
    look(page, "content-trust-warning")
    page.get_by_role("button", name="OK").click()
    page.wait_for_load_state()
    # The page refreshes itself while the wipe runs (no script: the CSP allows none, not
    # even Playwright's evaluated predicates); wait until its progress note is gone.
    page.locator("[role=status]").wait_for(state="detached", timeout=15000)
    page.wait_for_load_state()
    assert page.get_by_label("Disabled").is_checked(), "saved as disabled"
    look(page, "content-trust-disabled")

    # Create a registry: the name is checked as it is typed (htmx), then Create.
    page.goto(f"{base}/portal")
    page.get_by_role("link", name="Create", exact=True).click()
    assert page.title() == "Create container registry · Berth", page.title()
    page.get_by_label("Resource group", exact=True).select_option(label=group)
    page.get_by_label("Registry name").press_sequentially("portalthree", delay=30)
    page.get_by_text("already in use").wait_for(timeout=5000)
    page.get_by_label("Registry name").fill("")
    page.get_by_label("Registry name").press_sequentially("portalmade", delay=30)
    page.get_by_text("portalmade is available.").wait_for(timeout=5000)
    page.get_by_label("Premium").check()
    look(page, "create")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/portal/registries/*/" + group + "/portalmade")
    assert page.title() == "portalmade · Overview · Berth", page.title()
    # The copy button appears once portal.js runs, and copies the login server.
    page.get_by_role("button", name="Copy", exact=True).click()
    page.get_by_text("to the clipboard.").wait_for(timeout=5000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("portalmade."), copied
    look(page, "overview-new")
    # Delete it: the name typed to confirm, then the operation's progress until done.
    page.get_by_role("link", name="Delete portalmade…").click()
    assert page.title() == "Delete · portalmade · Berth", page.title()
    look(page, "delete")
    page.get_by_label("Type portalmade to confirm").fill("portalmade")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url("**/portalmade/operations/*")
    page.get_by_text("Done: the registry has been deleted.").wait_for(timeout=20000)
    look(page, "deleted")

    # A Reader's view (lee reads portalone): the controls disabled, with the reason.
    page.goto(f"{base}/portal")
    page.get_by_role("link", name="portalone").click()
    page.get_by_role("link", name="Access keys").click()
    assert page.get_by_role("button", name="Enable admin user").is_disabled(), "a Reader cannot turn it on"
    assert page.get_by_role("button", name="Show passwords").is_disabled(), "nor see passwords"
    page.get_by_text("Turning the admin user on or off needs").wait_for()
    look(page, "reader-access-keys")

    narrow = context.new_page()
    narrow.set_viewport_size({"width": 375, "height": 800})
    narrow.goto(f"{base}/portal")
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px: {width}"
    look(narrow, "registries-375")
    narrow.close()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/portal/signed-out")
    assert page.title() == "You have signed out · Berth", page.title()
    look(page, "signed-out")
    page.goto(f"{base}/portal")
    assert "/oauth2/v2.0/authorize" in page.url, "signed out: back to sign-in"
    browser.close()

assert not problems, "\n".join(problems)
print(f"portal in Chromium: axe-core found no serious or critical violation on {len(audited)} pages "
      f"({', '.join(audited)}); screenshots in {shots}")
sys.exit(0)
