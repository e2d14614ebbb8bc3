// Signs a user in to provider.mjs the way a browser would (authorization code with PKCE,
// through the provider's development login and consent forms) and prints the access token.
//
//   node login.mjs <issuer> <client_id> <client_secret> <resource> <user>
import { createHash, randomBytes } from 'node:crypto';

const [issuer, clientId, clientSecret, resource, user] = process.argv.slice(2);
const redirectUri = 'http://127.0.0.1/callback';
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const cookies = new Map();

async function go(url, init = {}) {
  const headers = { ...(init.headers || {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  const res = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair.indexOf('=');
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return res;
}

const auth = new URL('/auth', issuer);
Object.entries({
  client_id: clientId,
  response_type: 'code',
  redirect_uri: redirectUri,
  scope: 'openid user_impersonation',
  resource,
  code_challenge: challenge,
  code_challenge_method: 'S256',
  state: randomBytes(8).toString('hex'),
}).forEach(([k, v]) => auth.searchParams.set(k, v));

let res = await go(auth);
let code;
for (let step = 0; step < 12 && !code; step += 1) {
  const location = res.headers.get('location');
  if (!location) throw new Error(`stuck at ${res.url}: ${res.status} ${await res.text()}`);
  if (location.startsWith(redirectUri)) {
    const back = new URL(location);
    if (back.searchParams.get('error')) throw new Error(back.search);
    code = back.searchParams.get('code');
    break;
  }
  const page = new URL(location, issuer);
  if (page.pathname.startsWith('/interaction/')) {
    const form = await (await go(page)).text();
    const prompt = form.includes('name="login"') ? { prompt: 'login', login: user, password: 'any' } : { prompt: 'consent' };
    res = await go(page, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(prompt).toString(),
    });
  } else {
    res = await go(page);
  }
}
if (!code) throw new Error('no authorization code');
const token = await fetch(new URL('/token', issuer), {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
  },
  body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, resource }).toString(),
});
const body = await token.json();
if (!body.access_token) throw new Error(JSON.stringify(body));
console.log(body.access_token);
