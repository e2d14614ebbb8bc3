"""Helper of bench/trust.sh: a Premium registry with content trust on, signable by the bootstrap owner."""

import json
import sys
import urllib.parse
import urllib.request
import uuid

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
        return json.loads(text) if text else None


def client_token(base, app_id, secret, scope):
    form = {"grant_type": "client_credentials", "client_id": app_id, "client_secret": secret, "scope": scope}
    return call(base, "POST", "/organizations/oauth2/v2.0/token", form=form)["access_token"]


def setup(base, data_dir, name):
    """Resource group, Premium registry `name` with trust on, the owner given AcrPush and
    AcrImageSigner on it. Prints the login server."""
    owner = json.load(open(f"{data_dir}/bootstrap-owner.json"))
    arm = client_token(base, owner["appId"], owner["secret"], "https://management.berth.local/.default")
    graph = client_token(base, owner["appId"], owner["secret"], f"{base}/.default")
    sub = call(base, "GET", "/subscriptions?api-version=2022-12-01", arm)["value"][0]["subscriptionId"]
    group = f"/subscriptions/{sub}/resourceGroups/bench"
    call(base, "PUT", f"{group}?api-version=2025-04-01", arm, {"location": "westus"})
    registry = f"{group}/providers/Microsoft.ContainerRegistry/registries/{name}"
    reg = call(base, "PUT", f"{registry}?api-version={API}", arm, {"location": "westus", "sku": {"name": "Premium"}})
    trust = {"properties": {"policies": {"trustPolicy": {"type": "Notary", "status": "enabled"}}}}
    patched = call(base, "PATCH", f"{registry}?api-version={API}", arm, trust)
    assert patched["properties"]["policies"]["trustPolicy"]["status"] == "enabled", patched
    query = urllib.parse.quote(f"appId eq '{owner['appId']}'")
    principal = call(base, "GET", f"/v1.0/servicePrincipals?$filter={query}", graph)["value"][0]["id"]
    for role in (ACR_PUSH, SIGNER):
        url = f"{registry}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}?api-version=2022-04-01"
        call(base, "PUT", url, arm, {"properties": {"roleDefinitionId": role, "principalId": principal}})
    print(reg["properties"]["loginServer"])


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        setup(args[0], args[1], args[2])
