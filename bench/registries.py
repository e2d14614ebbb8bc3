"""Setup shared by the benchmarks that load registries: the bootstrap owner's management token,
a group `bench` and 64 Premium registries `benchreg0`..`benchreg63` in it.

Usage: registries.py <berthd base URL> <bootstrap-owner.json> <token file> <URL file>
Writes the token to <token file> and the URL of benchreg0 (with its api-version) to <URL file>.
"""
import json, sys, urllib.parse, urllib.request

base, owner, token_file, url_file = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": owner["appId"],
    "client_secret": owner["secret"], "scope": "https://management.berth.local/.default"}).encode()
token = json.load(urllib.request.urlopen(f"{base}/organizations/oauth2/v2.0/token", form))["access_token"]


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


sub = call("GET", "/subscriptions?api-version=2022-12-01")["value"][0]["subscriptionId"]
call("PUT", f"/subscriptions/{sub}/resourceGroups/bench?api-version=2025-04-01", {"location": "westus"})
prefix = f"/subscriptions/{sub}/resourceGroups/bench/providers/Microsoft.ContainerRegistry/registries"
for i in range(64):
    call("PUT", f"{prefix}/benchreg{i}?api-version=2025-11-01", {"location": "westus", "sku": {"name": "Premium"}})
open(token_file, "w").write(token)
open(url_file, "w").write(f"{base}{prefix}/benchreg0?api-version=2025-11-01")
