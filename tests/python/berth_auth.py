"""Tokens from berthd's built-in issuer for the Python checks: client credentials of the bootstrap owner.

Env: BERTH_URL, BERTH_CA, BERTH_CLIENT_ID, BERTH_CLIENT_SECRET.
"""

import os
import time

import requests
from azure.core.credentials import AccessToken

URL = os.environ["BERTH_URL"].rstrip("/")
CA = os.environ["BERTH_CA"]
CLIENT_ID = os.environ["BERTH_CLIENT_ID"]
CLIENT_SECRET = os.environ["BERTH_CLIENT_SECRET"]
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = f"{URL}/.default"


def token(scope, tenant="organizations"):
    """A client-credentials access token for `scope`, checked to be a JWT; returns (token, expires_in)."""
    endpoint = f"{URL}/{tenant}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": scope}
    r = requests.post(endpoint, data=form, verify=CA, timeout=10)
    assert r.status_code == 200, f"POST {endpoint} (scope {scope}): {r.status_code} {r.text}"
    body = r.json()
    access = body.get("access_token", "")
    assert access.count(".") == 2 and all(access.split(".")), f"access_token is not a JWT: {access[:40]!r}"
    assert isinstance(body.get("expires_in"), int) and body["expires_in"] > 0, f"expires_in: {body}"
    return access, body["expires_in"]


def bearer(scope=MANAGEMENT_SCOPE):
    """An `Authorization` header for plain HTTP calls."""
    return {"Authorization": f"Bearer {token(scope)[0]}"}


class ClientSecretToken:
    """A TokenCredential that asks berthd's issuer for client-credentials tokens, one per scope."""

    def __init__(self, tenant="organizations"):
        self.tenant = tenant
        self.asked = []

    def get_token(self, *scopes, **kwargs):
        assert scopes, "get_token called without a scope"
        self.asked.append(" ".join(scopes))
        access, expires_in = token(" ".join(scopes), self.tenant)
        return AccessToken(access, int(time.time()) + expires_in)
