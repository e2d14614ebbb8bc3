"""End-to-end check of berthd with the official Azure SDKs for Python.

Drives resource groups (azure-mgmt-resource) and registries (azure-mgmt-containerregistry)
against a running berthd over HTTPS, asserting each step; exits non-zero on the first failure.

Env: BERTH_URL (https://127.0.0.1:PORT), BERTH_CA (CA PEM file), BERTH_SUBSCRIPTION (GUID), and the
bootstrap owner's BERTH_CLIENT_ID / BERTH_CLIENT_SECRET (tokens come from berthd's built-in issuer).
"""

import os
import sys
import time
import uuid

import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerregistry.models import (
    GenerateCredentialsParameters,
    Policies,
    RegenerateCredentialParameters,
    Registry,
    RegistryNameCheckRequest,
    RegistryUpdateParameters,
    ScopeMap,
    Sku,
    Token,
    TrustPolicy,
)
from azure.mgmt.resource.resources import ResourceManagementClient
from berth_auth import ClientSecretToken, bearer

URL = os.environ["BERTH_URL"].rstrip("/")
CA = os.environ["BERTH_CA"]
SUB = os.environ["BERTH_SUBSCRIPTION"]
API_VERSION = "2025-11-01"
REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
START = time.monotonic()


def step(text):
    print(f"[{time.monotonic() - START:5.1f}s] {text}", flush=True)


def expect_not_found(call, what):
    try:
        call()
    except ResourceNotFoundError as e:
        return e
    raise AssertionError(f"{what}: expected ResourceNotFoundError, got a result")


def raw_pages(url):
    """Follows nextLink from `url` with plain HTTP, yielding each page's `value`."""
    while url:
        r = requests.get(url, verify=CA, headers=bearer(), timeout=10)
        assert r.status_code == 200, f"GET {url}: {r.status_code} {r.text}"
        body = r.json()
        yield url, body.get("value", [])
        url = body.get("nextLink")


def main():
    suffix = uuid.uuid4().hex[:8]
    rg = f"berth-sdk-{suffix}"
    rg2 = f"berth-sdk-{suffix}-b"
    main_name, basic_name, third_name, doomed_name = (
        f"{p}{suffix}" for p in ("sdkmain", "sdkbasic", "sdkthird", "sdkdoomed")
    )
    clients = {"base_url": URL, "connection_verify": CA}
    res = ResourceManagementClient(ClientSecretToken(), SUB, **clients)
    acr = ContainerRegistryManagementClient(ClientSecretToken(), SUB, **clients)

    # 1. Resource group: create, get, check existence.
    group = res.resource_groups.create_or_update(rg, {"location": "westus", "tags": {"run": suffix}})
    assert group.name == rg and group.location == "westus", f"created group: {group}"
    got = res.resource_groups.get(rg)
    assert got.id == group.id and got.tags == {"run": suffix}, f"get group: {got}"
    assert res.resource_groups.check_existence(rg) is True, "check_existence of the new group is not True"
    assert res.resource_groups.check_existence(f"{rg}-absent") is False, (
        "check_existence of an absent group is not False"
    )
    step(f"1 resource group {rg}: create_or_update, get, check_existence")

    # 2. Registry create (LRO).
    reg = acr.registries.begin_create(
        rg,
        main_name,
        Registry(location="westus", sku=Sku(name="Standard"), tags={"env": "test"}, admin_user_enabled=False),
    ).result()
    assert reg.provisioning_state == "Succeeded", f"provisioning_state: {reg.provisioning_state}"
    assert reg.sku.name == "Standard", f"sku: {reg.sku}"
    assert reg.login_server, f"login_server not set: {reg}"
    assert reg.admin_user_enabled is False and reg.tags == {"env": "test"}, f"created registry: {reg}"
    step(f"2 begin_create {main_name}: Succeeded, Standard, login server {reg.login_server}")

    # 3. Get and both lists.
    got = acr.registries.get(rg, main_name)
    assert got.id == reg.id and got.login_server == reg.login_server, f"get: {got}"
    assert main_name in {r.name for r in acr.registries.list_by_resource_group(rg)}, (
        "missing from list_by_resource_group"
    )
    assert main_name in {r.name for r in acr.registries.list()}, "missing from list()"
    step("3 get, list_by_resource_group, list")

    # 4. Partial updates: each keeps the earlier ones.
    update = acr.registries.begin_update
    reg = update(rg, main_name, RegistryUpdateParameters(tags={"env": "prod", "team": "a"})).result()
    assert reg.tags == {"env": "prod", "team": "a"} and reg.sku.name == "Standard", f"after tags: {reg}"
    reg = update(rg, main_name, RegistryUpdateParameters(sku=Sku(name="Premium"))).result()
    assert reg.sku.name == "Premium" and reg.tags == {"env": "prod", "team": "a"}, f"after sku: {reg}"
    reg = update(rg, main_name, RegistryUpdateParameters(admin_user_enabled=True)).result()
    assert reg.admin_user_enabled is True, f"after admin: {reg}"
    assert reg.sku.name == "Premium" and reg.tags == {"env": "prod", "team": "a"}, (
        f"after admin, earlier changes lost: {reg}"
    )
    step("4 begin_update tags, sku Premium, admin_user_enabled: each kept")

    # 5. Trust policy on Premium merges into the other policies.
    before = reg.policies
    trust = Policies(trust_policy=TrustPolicy(type="Notary", status="enabled"))
    reg = update(rg, main_name, RegistryUpdateParameters(policies=trust)).result()
    assert reg.policies.trust_policy.status == "enabled", f"trust: {reg.policies}"
    assert reg.policies.export_policy.status == before.export_policy.status == "enabled", (
        f"export policy changed: {reg.policies}"
    )
    assert reg.policies.quarantine_policy.status == before.quarantine_policy.status, (
        f"quarantine changed: {reg.policies}"
    )
    assert reg.policies.retention_policy.status == before.retention_policy.status, f"retention changed: {reg.policies}"
    assert reg.admin_user_enabled is True and reg.sku.name == "Premium", f"after trust: {reg}"
    step("5 trust policy enabled on Premium; other policies unchanged")

    # 5a. Disabling content trust wipes the registry's trust data: a long-running PATCH
    # (200 with Azure-AsyncOperation) that the SDK's poller follows to the final GET.
    off = Policies(trust_policy=TrustPolicy(type="Notary", status="disabled"))
    poller = update(rg, main_name, RegistryUpdateParameters(policies=off))
    reg = poller.result()
    assert poller.status().lower() == "succeeded", f"poller status: {poller.status()}"
    assert reg.policies.trust_policy.status == "disabled", f"trust after disable: {reg.policies}"
    assert reg.provisioning_state == "Succeeded", f"provisioning after disable: {reg}"
    assert reg.policies.export_policy.status == "enabled" and reg.admin_user_enabled is True, f"after disable: {reg}"
    reg = update(rg, main_name, RegistryUpdateParameters(policies=trust)).result()
    assert reg.policies.trust_policy.status == "enabled", f"trust enabled again: {reg.policies}"
    step("5a disabling trust is a long-running update the SDK follows; enabling again works")

    # 5b. The admin user's credentials, scope maps and tokens, as `az acr credential`,
    # `az acr scope-map` and `az acr token` drive them.
    creds = acr.registries.list_credentials(rg, main_name)
    assert creds.username == main_name and [p.name for p in creds.passwords] == ["password", "password2"], (
        f"list_credentials: {creds}"
    )
    renewed = acr.registries.regenerate_credential(rg, main_name, RegenerateCredentialParameters(name="password2"))
    assert renewed.passwords[0].value == creds.passwords[0].value, "password kept"
    assert renewed.passwords[1].value != creds.passwords[1].value, "password2 renewed"
    system = {m.name for m in acr.scope_maps.list(rg, main_name)}
    assert "_repositories_pull" in system, f"system scope maps: {system}"
    scope_map = acr.scope_maps.begin_create(
        rg, main_name, "sdk-map", ScopeMap(description="sdk", actions=["repositories/sdk/app/content/read"])
    ).result()
    assert scope_map.actions == ["repositories/sdk/app/content/read"] and scope_map.properties.type == "UserDefined", (
        f"scope map: {scope_map}"
    )
    token = acr.tokens.begin_create(rg, main_name, "sdk-token", Token(scope_map_id=scope_map.id, status="enabled")).result()
    assert token.scope_map_id.lower() == scope_map.id.lower() and token.status == "enabled", f"token: {token}"
    generated = acr.registries.begin_generate_credentials(
        rg, main_name, GenerateCredentialsParameters(token_id=token.id, name="password1")
    ).result()
    assert generated.username == "sdk-token" and generated.passwords[0].value, f"generate_credentials: {generated}"
    acr.tokens.begin_delete(rg, main_name, "sdk-token").result()
    acr.scope_maps.begin_delete(rg, main_name, "sdk-map").result()
    assert "sdk-map" not in {m.name for m in acr.scope_maps.list(rg, main_name)}, "scope map left after delete"
    step("5b list/regenerate credentials; scope map, token, generate_credentials, deletes")

    # 6. Trust is Premium-only: a Basic registry refuses it and stays unchanged.
    basic = acr.registries.begin_create(rg, basic_name, Registry(location="westus", sku=Sku(name="Basic"))).result()
    assert basic.sku.name == "Basic", f"basic: {basic}"
    try:
        update(rg, basic_name, RegistryUpdateParameters(policies=trust)).result()
        raise AssertionError("enabling trust on Basic did not raise")
    except HttpResponseError as e:
        assert e.error is not None and e.error.code == "FeatureNotSupportedForSku", (
            f"trust on Basic: {e.status_code} {e}"
        )
    basic = acr.registries.get(rg, basic_name)
    assert basic.policies.trust_policy.status == "disabled", f"Basic trust after refusal: {basic.policies}"
    step("6 trust on Basic refused with FeatureNotSupportedForSku; still disabled")

    # 7. Name availability.
    taken = acr.registries.check_name_availability(RegistryNameCheckRequest(name=main_name, type=REGISTRY_TYPE))
    assert taken.name_available is False and taken.reason == "AlreadyExists", f"taken name: {taken}"
    free = acr.registries.check_name_availability(RegistryNameCheckRequest(name=f"sdkfree{suffix}", type=REGISTRY_TYPE))
    assert free.name_available is True, f"free name: {free}"
    step("7 check_name_availability: taken -> AlreadyExists, free -> available")

    # 8. Paging: three registries, pages of one via $top, followed by hand and by the SDK.
    acr.registries.begin_create(rg, third_name, Registry(location="westus", sku=Sku(name="Basic"))).result()
    expected = {main_name, basic_name, third_name}
    listed = {r.name for r in acr.registries.list_by_resource_group(rg)}
    assert listed == expected, f"list_by_resource_group: {listed} != {expected}"
    list_url = f"{URL}/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries"
    pages = list(raw_pages(f"{list_url}?api-version={API_VERSION}&$top=1"))
    for url, value in pages:
        assert len(value) <= 1, f"page {url} has {len(value)} items with $top=1"
    seen = [r["name"] for _, value in pages for r in value]
    assert sorted(seen) == sorted(expected), f"raw pages saw {seen}, expected {expected}"
    second_page = pages[1][0]
    # The SDK resumes from the first nextLink (a $top=1 page) and must follow the rest.
    resumed = acr.registries.list_by_resource_group(rg).by_page(continuation_token=second_page)
    sdk_pages = [[r.name for r in page] for page in resumed]
    assert all(len(p) <= 1 for p in sdk_pages), f"SDK pages from a $top=1 nextLink: {sdk_pages}"
    assert sorted(n for p in sdk_pages for n in p) == sorted(seen[1:]), f"SDK pages {sdk_pages}, expected {seen[1:]}"
    step(f"8 paging: {len(pages)} raw pages of <=1, SDK followed {len(sdk_pages)} nextLinks")

    # 9. Delete every registry (LRO); each is then gone.
    for name in sorted(expected):
        acr.registries.begin_delete(rg, name).result()
        expect_not_found(lambda n=name: acr.registries.get(rg, n), f"get {name} after delete")
    assert not list(acr.registries.list_by_resource_group(rg)), "registries left after delete"
    step("9 begin_delete x3; get -> ResourceNotFoundError")

    # 10. Deleting a group that still holds a registry takes the registry with it.
    res.resource_groups.create_or_update(rg2, {"location": "westus"})
    acr.registries.begin_create(rg2, doomed_name, Registry(location="westus", sku=Sku(name="Basic"))).result()
    res.resource_groups.begin_delete(rg2).result()
    err = expect_not_found(lambda: acr.registries.get(rg2, doomed_name), f"get {doomed_name} after group delete")
    assert err.error is not None and err.error.code in ("ResourceNotFound", "ResourceGroupNotFound"), f"error: {err}"
    assert res.resource_groups.check_existence(rg2) is False, f"group {rg2} still exists"
    res.resource_groups.begin_delete(rg).result()
    step(f"10 resource group delete with a registry inside: registry gone ({err.error.code})")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"all steps passed in {time.monotonic() - START:.1f}s")
