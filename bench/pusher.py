"""Setup shared by the benchmarks: a Premium registry `benchreg0`, a service principal with
AcrPush on it, and its refresh token from the exchange, as `az acr login` gets one.

Usage: pusher.py <berthd base URL> <bootstrap-owner.json> <work dir> [--at-login-server SCOPE]
Writes <work>/service (the login server) and <work>/refresh. With --at-login-server, the
exchange goes to http://<loginServer> (as az does) and an access token for SCOPE from its
/oauth2/token is written to <work>/access.
"""
import json, sys, urllib.parse, urllib.request, uuid

base, owner, work = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
scope = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--at-login-server" else None


def call(method, url, token=None, body=None, form=None, at=None):
    data, headers = None, {}
    if token: headers["Authorization"] = f"Bearer {token}"
    if body is not None: data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None: data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request((at or base) + url, data, headers, method=method)) as r:
        text = r.read()
        return json.loads(text) if text else None


def token(app_id, secret, scope):
    return call("POST", "/organizations/oauth2/v2.0/token", form={"grant_type": "client_credentials",
        "client_id": app_id, "client_secret": secret, "scope": scope})["access_token"]


arm = token(owner["appId"], owner["secret"], "https://management.berth.local/.default")
graph = token(owner["appId"], owner["secret"], f"{base}/.default")
sub = call("GET", "/subscriptions?api-version=2022-12-01", arm)["value"][0]["subscriptionId"]
call("PUT", f"/subscriptions/{sub}/resourceGroups/bench?api-version=2025-04-01", arm, {"location": "westus"})
reg = f"/subscriptions/{sub}/resourceGroups/bench/providers/Microsoft.ContainerRegistry/registries/benchreg0"
login = call("PUT", f"{reg}?api-version=2025-11-01", arm, {"location": "westus", "sku": {"name": "Premium"}})["properties"]["loginServer"]
app = call("POST", "/v1.0/applications", graph, {"displayName": "bench-pusher"})
secret = call("POST", f"/v1.0/applications/{app['id']}/addPassword", graph, {})["secretText"]
sp = call("GET", f"/v1.0/servicePrincipals/{app['appId']}", graph)["id"]
call("PUT", f"{reg}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01", arm,
     {"properties": {"roleDefinitionId": "8311e382-0749-4cb8-b61a-304f252e45ec", "principalId": sp}})
aad = token(app["appId"], secret, "https://containerregistry.azure.net/.default")
at = f"http://{login}" if scope else None
refresh = call("POST", "/oauth2/exchange", form={"grant_type": "access_token", "service": login,
    "access_token": aad}, at=at)["refresh_token"]
open(f"{work}/service", "w").write(login)
open(f"{work}/refresh", "w").write(refresh)
if scope:
    access = call("POST", "/oauth2/token", form={"grant_type": "refresh_token", "service": login,
        "scope": scope, "refresh_token": refresh}, at=at)["access_token"]
    open(f"{work}/access", "w").write(access)
