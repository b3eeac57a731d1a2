// The signed-in token and what the API told us about its holder, kept in sessionStorage (gone when the tab closes).

const TOKEN_KEY = 'takedown.token';
const IDENTITY_KEY = 'takedown.identity';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.removeItem(IDENTITY_KEY);
}

export function getStoredIdentity() {
  const raw = sessionStorage.getItem(IDENTITY_KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

export function storeIdentity(identity) {
  sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(IDENTITY_KEY);
}
