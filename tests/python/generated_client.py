"""Checks that berthd's OpenAPI document yields a working client with openapi-python-client.

Generates a client package from the spec, imports it, and drives a registry's life cycle with
it against a running berthd: resource group PUT, registry PUT, GET, PATCH, list, DELETE (202),
then GET until 404. Exits non-zero on the first failure.

Env: BERTH_URL, BERTH_CA, BERTH_SUBSCRIPTION, BERTH_OPENAPI (the spec file), BERTH_WORKDIR (a temp dir).
"""

import os
import ssl
import subprocess
import sys
import time
import uuid

URL = os.environ["BERTH_URL"].rstrip("/")
CA = os.environ["BERTH_CA"]
SUB = os.environ["BERTH_SUBSCRIPTION"]
SPEC = os.environ["BERTH_OPENAPI"]
WORKDIR = os.environ["BERTH_WORKDIR"]
API_VERSION = "2025-11-01"
GROUP_API_VERSION = "2025-04-01"
DELETE_TIMEOUT_S = 30


def generate():
    """Runs the generator; any warning (such as a skipped endpoint) fails the check."""
    # The generator formats its output with ruff, found on PATH: use the one installed beside it.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    cmd = [
        "openapi-python-client", "generate", "--path", SPEC, "--output-path", os.path.join(WORKDIR, "client"),
        "--meta", "none", "--overwrite", "--fail-on-warning",
    ]  # fmt: skip
    run = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"generator failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"


def main():
    generate()
    print("generated the client package")
    # The generated package exists only now, so it is imported here and in lifecycle().
    sys.path.insert(0, WORKDIR)
    from client import Client

    # An SSLContext rather than the CA path: httpx 0.28 deprecates `verify=<str>`.
    tls = ssl.create_default_context(cafile=CA)
    from berth_auth import MANAGEMENT_SCOPE, token

    # A real token from berthd's built-in issuer, as the generated client's bearer.
    headers = {"Authorization": f"Bearer {token(MANAGEMENT_SCOPE)[0]}"}
    with Client(base_url=URL, verify_ssl=tls, raise_on_unexpected_status=False, headers=headers) as api:
        lifecycle(api)


def lifecycle(api):
    """Drives one registry through its life cycle with the generated client."""
    from client.api.registries import (
        registries_create,
        registries_delete,
        registries_get,
        registries_list_by_resource_group,
        registries_update,
    )
    from client.api.resource_groups import (
        resource_groups_create_or_update,
        resource_groups_delete,
    )
    from client.models import (
        ErrorResponse,
        RegistryCreateBody,
        RegistryCreateBodyTagsType0,
        RegistryList,
        RegistryPropertiesInput,
        RegistryResource,
        RegistryUpdateBody,
        RegistryUpdateBodyTagsType0,
        ResourceGroupBody,
        ResourceGroupResource,
        SkuDto,
    )

    suffix = uuid.uuid4().hex[:8]
    rg, name = f"berth-gen-{suffix}", f"genreg{suffix}"
    ids = {"subscription_id": SUB, "resource_group_name": rg}
    reg_ids = {**ids, "registry_name": name}

    r = resource_groups_create_or_update.sync_detailed(
        **ids, client=api, api_version=GROUP_API_VERSION, body=ResourceGroupBody(location="westus")
    )
    assert r.status_code == 201, f"PUT group: {r.status_code} {r.content!r}"
    assert isinstance(r.parsed, ResourceGroupResource) and r.parsed.name == rg, f"PUT group body: {r.parsed}"
    print(f"PUT resourceGroups/{rg} -> 201")

    body = RegistryCreateBody(
        location="westus",
        sku=SkuDto(name="Standard"),
        tags=RegistryCreateBodyTagsType0.from_dict({"env": "test"}),
        properties=RegistryPropertiesInput(admin_user_enabled=False),
    )
    r = registries_create.sync_detailed(**reg_ids, client=api, api_version=API_VERSION, body=body)
    assert r.status_code == 201, f"PUT registry: {r.status_code} {r.content!r}"
    reg = r.parsed
    assert isinstance(reg, RegistryResource), f"PUT registry body: {reg}"
    assert reg.name == name and reg.sku.name == "Standard", f"PUT registry body: {reg}"
    assert reg.properties.provisioning_state == "Succeeded", f"provisioningState: {reg.properties.provisioning_state}"
    assert reg.properties.admin_user_enabled is False and reg.tags.to_dict() == {"env": "test"}, f"PUT: {reg}"
    print(f"PUT registries/{name} -> 201, loginServer {reg.properties.login_server}")

    r = registries_get.sync_detailed(**reg_ids, client=api, api_version=API_VERSION)
    assert r.status_code == 200, f"GET registry: {r.status_code} {r.content!r}"
    assert isinstance(r.parsed, RegistryResource) and r.parsed.id == reg.id, f"GET registry body: {r.parsed}"
    print("GET registry -> 200")

    patch = RegistryUpdateBody(
        tags=RegistryUpdateBodyTagsType0.from_dict({"env": "prod"}),
        properties=RegistryPropertiesInput(admin_user_enabled=True),
    )
    r = registries_update.sync_detailed(**reg_ids, client=api, api_version=API_VERSION, body=patch)
    assert r.status_code == 200, f"PATCH registry: {r.status_code} {r.content!r}"
    reg = r.parsed
    assert isinstance(reg, RegistryResource), f"PATCH registry body: {reg}"
    assert reg.tags.to_dict() == {"env": "prod"} and reg.properties.admin_user_enabled is True, f"PATCH: {reg}"
    assert reg.sku.name == "Standard", f"PATCH changed the SKU: {reg.sku}"
    print("PATCH registry tags + adminUserEnabled -> 200")

    r = registries_list_by_resource_group.sync_detailed(**ids, client=api, api_version=API_VERSION)
    assert r.status_code == 200 and isinstance(r.parsed, RegistryList), f"list: {r.status_code} {r.content!r}"
    assert [x.name for x in r.parsed.value] == [name], f"list value: {[x.name for x in r.parsed.value]}"
    print("GET registries in the group -> 200, 1 item")

    r = registries_delete.sync_detailed(**reg_ids, client=api, api_version=API_VERSION)
    assert r.status_code == 202, f"DELETE registry: {r.status_code} {r.content!r}"
    assert r.headers.get("Location") and r.headers.get("Azure-AsyncOperation"), f"DELETE headers: {dict(r.headers)}"
    retry_after = int(r.headers.get("Retry-After", "1"))
    deadline = time.monotonic() + DELETE_TIMEOUT_S
    while True:
        r = registries_get.sync_detailed(**reg_ids, client=api, api_version=API_VERSION)
        if r.status_code == 404:
            break
        assert r.status_code == 200, f"GET while deleting: {r.status_code} {r.content!r}"
        assert time.monotonic() < deadline, f"registry still there {DELETE_TIMEOUT_S}s after DELETE"
        time.sleep(retry_after)
    assert isinstance(r.parsed, ErrorResponse) and r.parsed.error.code == "ResourceNotFound", f"404 body: {r.parsed}"
    print("DELETE registry -> 202; GET -> 404 ResourceNotFound")

    r = resource_groups_delete.sync_detailed(**ids, client=api, api_version=GROUP_API_VERSION)
    assert r.status_code in (200, 202), f"DELETE group: {r.status_code} {r.content!r}"
    print(f"DELETE group -> {r.status_code}")


if __name__ == "__main__":
    start = time.monotonic()
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"all steps passed in {time.monotonic() - start:.1f}s")
