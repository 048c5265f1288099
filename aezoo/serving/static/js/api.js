// The public v1 HTTP API, called exactly as any client would (documented at /docs).

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

const enc = encodeURIComponent;

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
  return handle(await fetch(path, { headers: { Accept: "application/json" } }));
}

async function post(path, body) {
  const response = await fetch(path, {
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
