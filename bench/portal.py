"""Setup and measurements for bench/portal.sh against one berthd (plain HTTP, loopback).

  portal.py setup <base> <owner.json> <registries> <workdir>
      makes a resource group with <registries> Basic registries, a directory user with
      Reader on the subscription, signs that user in to the portal as a browser does (the
      issuer's authorization-code flow with PKCE), and writes to <workdir>: session (the
      portal cookie), token (the owner's ARM token), json.url and portal.url (the first
      page of the JSON list and of the portal's list).
  portal.py weight <base> <workdir>
      prints the bytes of a first visit to the registry list as sent over the wire to a
      browser that takes gzip (HTML, CSS, htmx, icon), and what gzip would make of each.
"""

import gzip
import http.client
import json
import sys
import urllib.parse

API = "api-version=2023-07-01"


class Client:
    """One keep-alive connection; no redirects followed; cookies kept by name."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port)
        self.cookies = {}

    def send(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return r, data


def token(c, base, owner, scope):
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": owner["appId"],
                                   "client_secret": owner["secret"], "scope": scope})
    r, data = c.send("POST", "/organizations/oauth2/v2.0/token", form,
                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, data
    return json.loads(data)["access_token"]


def setup(base, owner_file, count, work):
    owner = json.load(open(owner_file))
    c = Client(base)
    arm = token(c, base, owner, "https://management.berth.local/.default")
    graph = token(c, base, owner, f"{base}/.default")
    auth = {"Authorization": f"Bearer {arm}", "Content-Type": "application/json"}
    r, data = c.send("GET", "/subscriptions?api-version=2022-12-01", headers=auth)
    sub = json.loads(data)["value"][0]["subscriptionId"]
    r, _ = c.send("PUT", f"/subscriptions/{sub}/resourceGroups/bench?api-version=2025-04-01",
                  json.dumps({"location": "westus"}), auth)
    assert r.status in (200, 201), r.status
    prefix = f"/subscriptions/{sub}/resourceGroups/bench/providers/Microsoft.ContainerRegistry/registries"
    for i in range(count):
        r, data = c.send("PUT", f"{prefix}/benchreg{i:04d}?{API}",
                         json.dumps({"location": "westus", "sku": {"name": "Basic"}}), auth)
        assert r.status in (200, 201), data
    r, data = c.send("POST", "/v1.0/users", json.dumps({"userPrincipalName": "bench@berth.local",
                     "passwordProfile": {"password": "bench-password-1"}}),
                     {"Authorization": f"Bearer {graph}", "Content-Type": "application/json"})
    assert r.status == 201, data
    user = json.loads(data)["id"]
    reader = f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
    r, data = c.send("PUT", f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/"
                     f"6f2f2a6e-9a51-4e6c-8f3a-0b1c2d3e4f50?api-version=2022-04-01",
                     json.dumps({"properties": {"roleDefinitionId": reader, "principalId": user}}), auth)
    assert r.status in (200, 201), data

    # Sign in as a browser does: the portal's start, the issuer's page, the callback.
    b = Client(base)
    r, _ = b.send("GET", "/portal/auth/signin?return=/portal")
    assert r.status == 303, r.status
    r, page = b.send("GET", r.getheader("Location"))
    html = page.decode()
    action = html.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    fields = []
    for part in html.split('<input type="hidden" name="')[1:]:
        name = part.split('"', 1)[0]
        value = part.split('value="', 1)[1].split('"', 1)[0]
        for entity, char in (("&#43;", "+"), ("&#47;", "/"), ("&#61;", "="), ("&#38;", "&"), ("&amp;", "&")):
            value = value.replace(entity, char)
        fields.append((name, value))
    fields += [("username", "bench@berth.local"), ("password", "bench-password-1")]
    r, _ = b.send("POST", action, urllib.parse.urlencode(fields),
                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status in (302, 303), r.status
    callback = urllib.parse.urlsplit(r.getheader("Location"))
    r, _ = b.send("GET", f"{callback.path}?{callback.query}")
    assert r.status == 303 and "__Host-berth-session" in b.cookies, (r.status, b.cookies)
    r, page = b.send("GET", "/portal")
    assert r.status == 200 and "1–100 (more on the next page)".encode() in page, page[:2000]
    open(f"{work}/session", "w").write(b.cookies["__Host-berth-session"])
    open(f"{work}/token", "w").write(arm)
    open(f"{work}/json.url", "w").write(f"{base}/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/registries?{API}")
    open(f"{work}/portal.url", "w").write(f"{base}/portal")
    # Both answers list the same 100 registries.
    r, data = c.send("GET", f"/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/registries?{API}", headers=auth)
    listed = json.loads(data)["value"]
    assert len(listed) == 100 and all(f">{x['name']}</a>".encode() in page for x in listed), "not the same page"


def weight(base, work):
    session = open(f"{work}/session").read()
    c = Client(base)
    c.cookies["__Host-berth-session"] = session
    r, page = c.send("GET", "/portal", headers={"Accept-Encoding": "gzip"})
    html = page.decode("utf-8", "replace") if r.getheader("Content-Encoding") != "gzip" else gzip.decompress(page).decode()
    assets = ["/portal/static/berth.css", "/portal/static/icon.svg"]
    assets += [p.split('"', 1)[0] for p in html.split('<script src="')[1:]]
    rows = [("HTML (/portal, 100 rows)", r, page)]
    for path in assets:
        r, data = c.send("GET", path, headers={"Accept-Encoding": "gzip"})
        assert r.status == 200, path
        rows.append((path, r, data))
    total = total_gz = 0
    for name, r, data in rows:
        raw = gzip.decompress(data) if r.getheader("Content-Encoding") == "gzip" else data
        gz = len(gzip.compress(raw, 9))
        total += len(data)
        total_gz += min(len(data), gz)
        print(f"{name}: {len(data)} bytes sent ({r.getheader('Content-Encoding') or 'identity'}), "
              f"{len(raw)} raw, {gz} gzipped")
    print(f"first load: {total} bytes as sent; {total_gz} bytes with every part gzipped")


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        weight(sys.argv[2], sys.argv[3])
