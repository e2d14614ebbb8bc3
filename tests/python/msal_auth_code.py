"""MSAL Python (the library behind the Azure CLI and Azure Identity) signs a person in to
berthd's built-in issuer with the authorization-code flow and PKCE, as a native app does:
initiate_auth_code_flow, the person's browser on the issuer's sign-in page (played here by
requests, reading the page's form as a browser would), then acquire_token_by_auth_code_flow,
which checks state and nonce itself. The access token then works at ARM, and the refresh
token MSAL keeps gives new tokens silently.
"""

import html
import os
import re
import sys
import urllib.parse

import msal
import requests

base = os.environ["BERTH_URL"]
tenant = os.environ["BERTH_TENANT"]
user = os.environ["BERTH_USER"]
password = os.environ["BERTH_PASSWORD"]
management = "https://management.berth.local/.default"

# requests prefers these to a session's own `verify`: they name berthd's CA here.
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CURL_CA_BUNDLE"] = os.environ["BERTH_CA"]
http = requests.Session()
http.verify = os.environ["BERTH_CA"]
app = msal.PublicClientApplication(
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46",  # the Azure CLI, a first-party public client
    authority=f"{base}/{tenant}",
    http_client=http,
    instance_discovery=False,
)
flow = app.initiate_auth_code_flow(
    scopes=[management], redirect_uri="http://localhost:8400/", login_hint=user
)

# The browser: the sign-in page, its form filled in and posted, the redirect not followed.
page = http.get(flow["auth_uri"])
assert page.status_code == 200, (page.status_code, page.text)
assert "default-src 'self'" in page.headers["Content-Security-Policy"]
form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
assert form, page.text
fields = {
    html.unescape(name): html.unescape(value)
    for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)
    )
}
assert fields["code_challenge_method"] == "S256", fields
assert f'value="{user}"' in form.group(2), "the login hint fills in the user name"
fields.update(username=user, password=password)
answer = http.post(
    urllib.parse.urljoin(base, html.unescape(form.group(1))),
    data=fields,
    allow_redirects=False,
)
assert answer.status_code == 303, (answer.status_code, answer.text)
location = answer.headers["Location"]
assert location.startswith("http://localhost:8400/?"), location
auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

result = app.acquire_token_by_auth_code_flow(flow, auth_response)
assert "access_token" in result, result
claims = result["id_token_claims"]
assert claims["preferred_username"] == user, claims
assert claims["tid"] == tenant, claims

arm = http.get(
    f"{base}/tenants?api-version=2022-12-01",
    headers={"Authorization": f"Bearer {result['access_token']}"},
)
assert arm.status_code == 200, (arm.status_code, arm.text)

# A replayed authorization response gets nothing.
replayed = app.acquire_token_by_auth_code_flow(flow, auth_response)
assert "access_token" not in replayed, replayed

accounts = app.get_accounts(username=user)
assert accounts, "MSAL keeps the account"
silent = app.acquire_token_silent([management], account=accounts[0], force_refresh=True)
assert silent and "access_token" in silent, silent

print(f"MSAL {msal.__version__}: {user} signed in with the authorization-code flow and PKCE")
sys.exit(0)
