"""End-to-end check of berthd's Microsoft.Authorization API with the official Azure SDK for Python.

Drives role definitions and role assignments (azure-mgmt-authorization 4.0.0, api-version 2022-04-01)
against a running berthd over HTTPS, with real tokens from berthd's built-in issuer (client credentials
of the bootstrap owner). Asserts each step; exits non-zero on the first failure.

Env: BERTH_URL (https://127.0.0.1:PORT), BERTH_CA (CA PEM file), BERTH_SUBSCRIPTION (GUID),
BERTH_CLIENT_ID and BERTH_CLIENT_SECRET (the bootstrap owner service principal).
"""

import os
import sys
import time
import uuid

import requests
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from berth_auth import ClientSecretToken, bearer

URL = os.environ["BERTH_URL"].rstrip("/")
CA = os.environ["BERTH_CA"]
SUB = os.environ["BERTH_SUBSCRIPTION"]
SUB_SCOPE = f"/subscriptions/{SUB}"
# RBAC scopes are not checked against resources: neither the group nor the registry needs to exist.
SCOPE = f"{SUB_SCOPE}/resourceGroups/rg-authz/providers/Microsoft.ContainerRegistry/registries/authzreg1"
ROLE_DEFINITIONS = f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/"
ACR_IMAGE_SIGNER = "6cef56e8-d556-48e5-a04f-b8e64114680f"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
START = time.monotonic()


def step(text):
    print(f"[{time.monotonic() - START:5.1f}s] {text}", flush=True)


def graph(method, path, token, **kwargs):
    r = requests.request(
        method, f"{URL}{path}", verify=CA, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs
    )
    assert r.status_code in (200, 201), f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


def expect_error(call, kind, code, what):
    try:
        result = call()
    except kind as e:
        assert e.error is not None and e.error.code == code, (
            f"{what}: expected {kind.__name__} with code {code}, got {e.status_code} code "
            f"{e.error.code if e.error else None}: {e}"
        )
        return e
    except HttpResponseError as e:
        raise AssertionError(f"{what}: expected {kind.__name__} ({code}), got {type(e).__name__} {e.status_code}: {e}")
    raise AssertionError(f"{what}: expected {kind.__name__} ({code}), got a result: {result}")


def main():
    # a. The tenant.
    r = requests.get(f"{URL}/tenants?api-version=2022-12-01", verify=CA, timeout=10, headers=bearer())
    assert r.status_code == 200, f"GET /tenants: {r.status_code} {r.text}"
    tenants = r.json().get("value", [])
    assert tenants and tenants[0].get("tenantId"), f"GET /tenants: no tenantId in {r.text}"
    tenant = tenants[0]["tenantId"]
    step(f"a tenant {tenant}")

    # b. A real token from the issuer, for the scope the SDK asks for.
    credential = ClientSecretToken(tenant)
    arm_token = credential.get_token("https://management.azure.com/.default").token
    authz = AuthorizationManagementClient(credential, SUB, base_url=URL, connection_verify=CA)
    step(f"b client_credentials token for the management audience: JWT of {len(arm_token)} chars")

    # c. Role definitions by name at a registry scope.
    signers = list(authz.role_definitions.list(SCOPE, filter="roleName eq 'AcrImageSigner'"))
    assert len(signers) == 1, f"roleName eq 'AcrImageSigner' at {SCOPE}: {len(signers)} results: {signers}"
    signer = signers[0]
    assert signer.name == ACR_IMAGE_SIGNER, f"AcrImageSigner name: {signer.name}"
    assert signer.role_name == "AcrImageSigner", f"role_name: {signer.role_name}"
    assert signer.permissions, f"AcrImageSigner has no permissions: {signer}"
    data_actions = signer.permissions[0].data_actions or []
    assert "Microsoft.ContainerRegistry/registries/trustedCollections/write" in data_actions, (
        f"AcrImageSigner dataActions: {data_actions}"
    )
    assert signer.id.startswith(ROLE_DEFINITIONS), (
        f"role definition id {signer.id} does not start with {ROLE_DEFINITIONS}"
    )
    assert set(credential.asked) == {"https://management.azure.com/.default"}, (
        f"scopes the SDK asked: {credential.asked}"
    )
    step(f"c role_definitions.list roleName eq 'AcrImageSigner': {signer.id}")

    # d. A role definition by GUID.
    pull = authz.role_definitions.get(SCOPE, ACR_PULL)
    assert pull.name == ACR_PULL and pull.role_name == "AcrPull", f"AcrPull: {pull.name} {pull.role_name}"
    assert pull.id == f"{ROLE_DEFINITIONS}{ACR_PULL}", f"AcrPull id: {pull.id}"
    step(f"d role_definitions.get AcrPull: {pull.role_name}, actions {pull.permissions[0].actions}")

    # e. A principal to assign: an application and its service principal, through Graph.
    graph_token = credential.get_token(f"{URL}/.default").token
    app = graph("POST", "/v1.0/applications", graph_token, json={"displayName": f"sdk-authz-{uuid.uuid4().hex[:8]}"})
    app_id, app_object_id = app.get("appId"), app.get("id")
    assert app_id and app_object_id, f"application without appId or id: {app}"
    sp = graph("GET", f"/v1.0/servicePrincipals/{app_id}", graph_token)
    sp_id = sp.get("id")
    assert sp_id and sp.get("appId") == app_id, f"service principal of {app_id}: {sp}"
    step(f"e application {app_id}, service principal {sp_id}")

    # f. Assign AcrImageSigner to it at the registry scope.
    name = str(uuid.uuid4())

    def params():
        return RoleAssignmentCreateParameters(
            role_definition_id=signer.id, principal_id=sp_id, principal_type="ServicePrincipal"
        )

    created = authz.role_assignments.create(SCOPE, name, params())
    assert created.name == name, f"assignment name: {created.name} != {name}"
    assert created.role_definition_id == signer.id, f"roleDefinitionId: {created.role_definition_id} != {signer.id}"
    assert created.principal_id == sp_id, f"principalId: {created.principal_id} != {sp_id}"
    assert created.scope == SCOPE, f"scope: {created.scope} != {SCOPE}"
    assert created.principal_type == "ServicePrincipal", f"principalType: {created.principal_type}"
    expected_id = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert created.id == expected_id, f"assignment id: {created.id} != {expected_id}"
    step(f"f role_assignments.create {name}")

    # g. The same (scope, role, principal) under a new name is refused.
    again = str(uuid.uuid4())
    expect_error(
        lambda: authz.role_assignments.create(SCOPE, again, params()),
        ResourceExistsError,
        "RoleAssignmentExists",
        "duplicate assignment under a new name",
    )
    step("g duplicate under a new name: ResourceExistsError RoleAssignmentExists")

    # h. Lists: at the scope, and everything assigned to the principal from the subscription.
    at_scope = {a.name for a in authz.role_assignments.list_for_scope(SCOPE, filter="atScope()")}
    assert name in at_scope, f"atScope() at {SCOPE} lacks {name}: {at_scope}"
    assert again not in at_scope, f"the refused duplicate {again} is listed"
    mine = list(authz.role_assignments.list_for_scope(SUB_SCOPE, filter=f"assignedTo('{sp_id}')"))
    assert name in {a.name for a in mine}, f"assignedTo('{sp_id}') at {SUB_SCOPE} lacks {name}: {mine}"
    assert all(a.principal_id == sp_id for a in mine), f"assignedTo('{sp_id}') lists others: {mine}"
    step(f"h list_for_scope atScope() ({len(at_scope)}), assignedTo at the subscription ({len(mine)})")

    # i. Get, delete twice, then it is gone.
    got = authz.role_assignments.get(SCOPE, name)
    assert got.id == created.id and got.role_definition_id == signer.id, f"get: {got}"
    deleted = authz.role_assignments.delete(SCOPE, name)
    assert deleted is None or deleted.name == name, f"delete returned {deleted}"
    assert authz.role_assignments.delete(SCOPE, name) is None, "second delete did not answer 204"
    expect_error(
        lambda: authz.role_assignments.get(SCOPE, name),
        ResourceNotFoundError,
        "RoleAssignmentNotFound",
        "get after delete",
    )
    gone = "200 with the assignment" if deleted is not None else "204"
    step(f"i get, delete ({gone}), delete again (204), get -> ResourceNotFoundError")

    # Cleanup: the application (by its object id, as in Graph) goes with its service principal.
    r = requests.delete(
        f"{URL}/v1.0/applications/{app_object_id}",
        verify=CA,
        headers={"Authorization": f"Bearer {graph_token}"},
        timeout=10,
    )
    assert r.status_code == 204, f"DELETE /v1.0/applications/{app_object_id}: {r.status_code} {r.text}"
    step(f"cleanup: application {app_object_id} deleted")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    except HttpResponseError as e:
        print(f"FAIL: unexpected {type(e).__name__} {e.status_code}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"all steps passed in {time.monotonic() - START:.1f}s")
