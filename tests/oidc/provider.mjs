// A real OpenID Connect provider (the `oidc-provider` package) for Berth's tests: listens on
// a loopback port, issues JWT access tokens for the audience in OIDC_AUDIENCE, and prints
// one JSON line ({"issuer", "client_id", "client_secret"}) once it is listening.
//
//   OIDC_AUDIENCE=https://management.berth.local/ node provider.mjs
//
// Clients: `berth-app` (client credentials, authorization code; redirect URIs
// http://127.0.0.1/callback and OIDC_REDIRECT_URI when set). Any user name signs in
// through the provider's development login form (see login.mjs). GET /test/stats tells how
// often discovery and the JWKS were fetched, so tests can check Berth's refetch floor.
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const audience = process.env.OIDC_AUDIENCE;
if (!audience) {
  console.error('OIDC_AUDIENCE is required');
  process.exit(2);
}
const clientSecret = randomBytes(24).toString('base64url');
const jwk = (alg, options) => ({
  ...generateKeyPairSync(...options).privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  alg,
  use: 'sig',
});
const keys = [jwk('RS256', ['rsa', { modulusLength: 2048 }]), jwk('ES256', ['ec', { namedCurve: 'P-256' }])];

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const profile = (id) => ({ preferred_username: `${id}@oidc.example`, name: `User ${id}` });

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'berth-app',
    client_secret: clientSecret,
    grant_types: ['client_credentials', 'authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback', ...(process.env.OIDC_REDIRECT_URI ? [process.env.OIDC_REDIRECT_URI] : [])],
  }],
  jwks: { keys },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, ...profile(sub) }) }),
  extraTokenClaims: async (_ctx, token) => (token.accountId ? profile(token.accountId) : undefined),
  scopes: ['openid', 'user_impersonation'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => audience,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== audience) throw new errors.InvalidTarget();
        return {
          scope: 'user_impersonation',
          audience,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: process.env.OIDC_ALG || 'RS256' } },
        };
      },
    },
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const stats = { discovery: 0, jwks: 0 };
const handle = provider.callback();
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/test/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
    return;
  }
  if (path === '/.well-known/openid-configuration') stats.discovery += 1;
  if (path === '/jwks') stats.jwks += 1;
  handle(req, res);
});
console.log(JSON.stringify({ issuer, client_id: 'berth-app', client_secret: clientSecret }));
// The test reads only that line: anything the provider prints later goes to stderr.
process.stdout.on('error', () => {});
console.log = console.info = console.warn = (...args) => console.error(...args);
