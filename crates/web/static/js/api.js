// The API client of the page scripts: JSON over fetch to /api, with the session cookie
// (same origin; the browser adds the Origin header the API's CSRF check wants).

/** An error answer of the API, or no answer at all (status 0). */
class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Calls `method /api{path}` with an optional JSON body; resolves to the JSON answer. */
export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api${path}`, init);
  } catch (_) {
    throw new ApiError(0, 'network', "Can't reach the server. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const retryAfter = Number(response.headers.get('retry-after')) || null;
    const message = data?.error ?? (response.status >= 500
      ? 'The server had a problem. Try again in a moment.'
      : `Request failed (${response.status}).`);
    throw new ApiError(response.status, data?.code ?? `http_${response.status}`, sentence(message), retryAfter);
  }
  return data;
}

/** Path segments and query values, encoded. */
export const enc = encodeURIComponent;

/** Starts an API message with a capital and ends it with a full stop, as the page text does. */
export function sentence(text) {
  const t = String(text).trim();
  if (!t) return t;
  const capital = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
