// The public v1 HTTP API, called exactly as any client would (documented at /docs).
//
// A server started with --api-key answers 401 without `Authorization: Bearer KEY`. The page
// then asks for the key once, keeps it in sessionStorage (this tab only, gone when it
// closes; never localStorage or a cookie) and sends it on every call; a 401 with a key
// (a wrong or changed one) asks again. Figures are fetched with the key too (blob: URLs).

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

const enc = encodeURIComponent;
const KEY_ITEM = "aezoo-api-key";
let asking = null; // the prompt on screen: concurrent 401s wait for the same answer
let declined = false; // the user cancelled: no more prompts until the page is reloaded

function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

/** Ask for the key; resolves true when one was entered (and stored). */
function askKey(refused) {
  if (declined) return Promise.resolve(false);
  asking ??= Promise.resolve().then(() => {
    const why = refused ? "The API key was refused. " : "This server needs an API key. ";
    const key = window.prompt(`${why}Enter it (kept in this tab until it closes):`);
    if (!key || !key.trim()) {
      declined = true;
      sessionStorage.removeItem(KEY_ITEM);
      return false;
    }
    sessionStorage.setItem(KEY_ITEM, key.trim());
    return true;
  }).finally(() => { asking = null; });
  return asking;
}

/** fetch() with the stored key; on 401 asks for the key and retries (until cancelled). */
export async function authFetch(path, init = {}) {
  for (;;) {
    const key = storedKey();
    const headers = key ? { ...init.headers, Authorization: `Bearer ${key}` } : init.headers;
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;
    if (storedKey() !== key) continue; // another call was given a new key meanwhile
    if (!(await askKey(Boolean(key)))) return response; // cancelled: the 401 is the answer
  }
}

/** Point img at a file route: directly, or with a stored key fetched with it as a blob: URL. */
export function showImage(img, url) {
  if (!storedKey()) {
    img.src = url;
    return img;
  }
  img.removeAttribute("src"); // nothing is loaded without the key
  authFetch(url)
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`${r.status}`))))
    .then((blob) => { img.src = URL.createObjectURL(blob); })
    .catch(() => { img.alt = `${img.alt} (not loaded)`; });
  return img;
}

async function handle(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null; // not JSON: the status line says what happened
  }
  if (!response.ok) {
    const error = body && body.error
      ? body.error
      : { type: "http_error", message: `${response.status} ${response.statusText}` };
    throw new ApiError(response.status, error.type, error.message);
  }
  return body;
}

async function get(path) {
  return handle(await authFetch(path, { headers: { Accept: "application/json" } }));
}

async function post(path, body) {
  const response = await authFetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return handle(response);
}

/** URL of one public file of a model's artifact (figures/*.png, samples.json). */
export function fileUrl(name, path) {
  return `/v1/models/${enc(name)}/files/${path.split("/").map(enc).join("/")}`;
}

export const api = {
  ready: () => fetch("/health/ready").then((r) => r.json()),
  models: () => get("/v1/models"),
  model: (name) => get(`/v1/models/${enc(name)}`),
  files: (name) => get(`/v1/models/${enc(name)}/files`),
  samples: (name) => get(fileUrl(name, "samples.json")),
  /** POST /v1/models/{name}/{op}: encode, denoise, classify ({inputs}) or interpolate ({a, b, steps}). */
  run: (name, op, body) => post(`/v1/models/${enc(name)}/${enc(op)}`, body),
};
