"""Helpers of bench/wipe.sh: the API calls, the token fetches and the timed loops."""

import http.client
import json
import sys
import time
import urllib.parse
import urllib.request

API = "2025-11-01"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
SIGNER = "6cef56e8-d556-48e5-a04f-b8e64114680f"


def call(base, method, url, token=None, body=None, form=None):
    data, headers = None, {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(base + url, data, headers, method=method)
    with urllib.request.urlopen(request) as r:
        text = r.read()
        return (json.loads(text) if text else None), r.headers


def client_token(base, app_id, secret, scope):
    form = {"grant_type": "client_credentials", "client_id": app_id, "client_secret": secret, "scope": scope}
    return call(base, "POST", "/organizations/oauth2/v2.0/token", form=form)[0]["access_token"]


def owner_token(base, work):
    owner = json.load(open(f"{work}/data/bootstrap-owner.json"))
    return client_token(base, owner["appId"], owner["secret"], "https://management.berth.local/.default")


def setup(base, work, n):
    owner = json.load(open(f"{work}/data/bootstrap-owner.json"))
    arm = owner_token(base, work)
    graph = client_token(base, owner["appId"], owner["secret"], f"{base}/.default")
    subs = call(base, "GET", "/subscriptions?api-version=2022-12-01", arm)[0]["value"][0]["subscriptionId"]
    group = f"/subscriptions/{subs}/resourceGroups/bench"
    call(base, "PUT", f"{group}?api-version=2025-04-01", arm, {"location": "westus"})
    application = call(base, "POST", "/v1.0/applications", graph, {"displayName": "bench-signer"})[0]
    secret = call(base, "POST", f"/v1.0/applications/{application['id']}/addPassword", graph, {})[0]["secretText"]
    sp = call(base, "GET", f"/v1.0/servicePrincipals/{application['appId']}", graph)[0]
    for role in (ACR_PUSH, SIGNER):
        url = f"{group}/providers/Microsoft.Authorization/roleAssignments/{__import__('uuid').uuid4()}?api-version=2022-04-01"
        call(base, "PUT", url, arm, {"properties": {"roleDefinitionId": role, "principalId": sp["id"]}})
    aad = client_token(base, application["appId"], secret, "https://containerregistry.azure.net/.default")
    lines = []
    for letter in "ABCD":
        name = f"benchwipe{letter.lower()}"
        path = f"{group}/providers/Microsoft.ContainerRegistry/registries/{name}?api-version={API}"
        reg = call(base, "PUT", path, arm, {"location": "westus", "sku": {"name": "Premium"}})[0]
        trust = {"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}}
        call(base, "PATCH", path, arm, trust)
        host = reg["properties"]["loginServer"]
        form = {"grant_type": "access_token", "service": host, "access_token": aad}
        refresh = call(base, "POST", "/oauth2/exchange", form=form)[0]["refresh_token"]
        lines += [f"HOST_{letter}={host}", f"REFRESH_{letter}={refresh}", f"PATH_{letter}={path}"]
    with open(f"{work}/setup.env", "w") as f:
        f.write("\n".join(lines) + f"\nGROUP={group}\n")


def tokens(base, host, refresh, service, n):
    """One `*` token per collection, as Berth mints them for itself: printed as 'gun token'."""
    for i in range(n):
        gun = f"{host}/app{i:04d}"
        form = {"grant_type": "refresh_token", "service": service, "scope": f"repository:{gun}:*",
                "refresh_token": refresh}
        token = call(base, "POST", "/oauth2/token", form=form)[0]["access_token"]
        print(gun, token)


def sequential(port, token_file):
    pairs = [line.split() for line in open(token_file)]
    conn = http.client.HTTPConnection("127.0.0.1", int(port))
    start = time.perf_counter()
    for gun, token in pairs:
        conn.request("DELETE", f"/v2/{gun}/_trust/tuf/", headers={"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, f"DELETE {gun}: {r.status}"
    print(f"{time.perf_counter() - start:.3f}")


def wipe(base, work, name):
    env = dict(line.strip().split("=", 1) for line in open(f"{work}/setup.env") if "=" in line)
    arm = owner_token(base, work)
    path = f"{env['GROUP']}/providers/Microsoft.ContainerRegistry/registries/{name}?api-version={API}"
    off = {"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "disabled"}}}}
    start = time.perf_counter()
    _, headers = call(base, "PATCH", path, arm, off)
    op = headers["Azure-AsyncOperation"]
    while True:
        status = call("", "GET", op, arm)[0]
        if status["status"] != "InProgress":
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    assert status["status"] == "Succeeded", status
    print(f"{elapsed:.3f}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        setup(args[0], args[1], int(args[2]))
    elif command == "tokens":
        tokens(args[0], args[2], args[3], args[4], int(args[5]))
    elif command == "sequential":
        sequential(args[0], args[1])
    elif command == "wipe":
        wipe(args[0], args[1], args[2])
