// The photo playground of a whole-image denoiser (a model whose card has `denoiser`): pick a
// sample image shipped with the model, or upload a PNG/JPEG; add Gaussian noise with a sigma
// slider (seeded, here in the page); denoise through POST /v1/models/{name}/denoise; clean,
// noisy and denoised side by side with their PSNR against the clean image.
//
// Samples: the artifact's samples.json may hold `images`, a list of grayscale crops, each
// {"label": "test001", "png": "<base64 of a PNG file>"} or {"label": ..., "pixels": [[0..255,
// ...], ...]} (rows of uint8 values). Uploads are converted to grey (ITU-R BT.601 luma) and
// centre-cropped to at most MAX_SIDE pixels a side, to keep the page quick.
//
// The noise follows the field's protocol: N(0, sigma^2) on the 0-255 scale, added and NOT
// clipped, sent as float32 on the uint8/255 scale in a .npy body (Accept: .npy back). PSNR
// (peak 255) compares the clean image with the noisy one and with the denoised one clipped
// to [0, 255]. Every call goes through authFetch: a server with --api-key works as for the
// other playgrounds.

import { ApiError, authFetch } from "./api.js";
import { fill, fmt, h } from "./dom.js";
import { drawImage, psnr, randomStream } from "./images.js";

export const MAX_SIDE = 256;

/** Grey pixels (0-255 floats) of a decoded <img>, centre-cropped to MAX_SIDE. */
function greyOf(img) {
  const w = Math.min(img.naturalWidth, MAX_SIDE);
  const h0 = Math.min(img.naturalHeight, MAX_SIDE);
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h0;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, -Math.floor((img.naturalWidth - w) / 2), -Math.floor((img.naturalHeight - h0) / 2));
  const rgba = ctx.getImageData(0, 0, w, h0).data;
  const values = new Float32Array(w * h0);
  for (let i = 0; i < values.length; i += 1) {
    values[i] = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
  }
  return { values, shape: [h0, w] };
}

function decodeUrl(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(greyOf(img));
    img.onerror = () => reject(new Error("the image could not be decoded (PNG or JPEG?)"));
    img.src = url;
  });
}

/** A sample entry of samples.json as {values, shape, label}. */
async function sampleImage(entry, i) {
  const label = entry.label || `#${i}`;
  if (entry.png) return { ...(await decodeUrl(`data:image/png;base64,${entry.png}`)), label };
  const rows = entry.pixels;
  return { values: Float32Array.from(rows.flat()), shape: [rows.length, rows[0].length], label };
}

/** Gaussian noise of std sigma (0-255 scale), seeded; not clipped. */
export function addGaussian(values, sigma, seed) {
  const rand = randomStream(seed);
  return values.map((v) => v + sigma * Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()));
}

/** A version-1 .npy file of a float32 (rows, cols) array. */
export function npyBytes(values, shape) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n"; // total a multiple of 64
  const head = new Uint8Array(10 + header.length);
  head.set([0x93, 78, 85, 77, 80, 89, 1, 0, header.length & 255, header.length >> 8]);
  for (let i = 0; i < header.length; i += 1) head[10 + i] = header.charCodeAt(i);
  const out = new Uint8Array(head.length + 4 * values.length);
  out.set(head);
  new Float32Array(out.buffer, head.length).set(values);
  return out;
}

/** The float32 data of a .npy answer (versions 1 and 2, little-endian float32). */
export function npyFloats(buffer) {
  const view = new DataView(buffer);
  const major = view.getUint8(6);
  const offset = major === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
  return new Float32Array(buffer.slice(offset));
}

async function denoise(name, noisy, shape, sigma) {
  const response = await authFetch(`/v1/models/${encodeURIComponent(name)}/denoise?sigma=${sigma}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-npy", Accept: "application/x-npy" },
    body: npyBytes(noisy.map((v) => v / 255), shape),
  });
  if (!response.ok) {
    let error = { type: "http_error", message: `${response.status} ${response.statusText}` };
    try { error = (await response.json()).error || error; } catch { /* not JSON */ }
    throw new ApiError(response.status, error.type, error.message);
  }
  return npyFloats(await response.arrayBuffer()).map((v) => 255 * v);
}

/** Mount the photo playground of denoiser `info` (GET /v1/models/{name}) into `root`. */
export async function mountPhotoPlayground(root, info, files, samplesOf) {
  const [lo, hi] = info.denoiser.sigma_range;
  const listed = files.some((f) => f.path === "samples.json");
  const entries = listed ? ((await samplesOf(info.name)).images || []) : [];
  const samples = await Promise.all(entries.map(sampleImage));
  let clean = samples[0] || null;
  let seed = 0;
  let seq = 0;
  const sigma = h("input", { type: "range", min: lo, max: hi, step: 1, value: Math.min(hi, Math.max(lo, 25)), testid: "photo-sigma", "aria-label": "noise sigma" });
  const sigmaText = h("output", { testid: "photo-sigma-value" });
  const upload = h("input", { type: "file", accept: "image/png,image/jpeg", testid: "photo-upload", "aria-label": "upload an image" });
  const output = h("div", { class: "strip", testid: "photo-output" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const button = h("button", { class: "run", testid: "run-photo" }, "Denoise");
  const panel = h("div", { class: "panel", testid: "panel-photo" });
  const canvasOf = (values, shape, caption, testid) => {
    const canvas = h("canvas", { testid: `${testid}-canvas` });
    drawImage(canvas, values, shape, [0, 255], shape[1] <= 96 ? 2 : 1);
    return h("figure", { class: "result", testid }, canvas, h("figcaption", { text: caption }));
  };

  async function run() {
    const mine = ++seq;
    error.hidden = true;
    sigmaText.textContent = `sigma ${sigma.value} (0-255 scale)`;
    if (!clean) return;
    panel.dataset.state = "running";
    const s = Number(sigma.value);
    const noisy = addGaussian(clean.values, s, seed);
    try {
      const out = await denoise(info.name, noisy, clean.shape, s);
      if (mine !== seq) return;
      const shown = out.map((v) => Math.min(255, Math.max(0, v)));
      const before = psnr(clean.values, noisy, 255);
      const after = psnr(clean.values, shown, 255);
      fill(output,
        canvasOf(clean.values, clean.shape, `clean: ${clean.label}`, "photo-clean"),
        canvasOf(noisy, clean.shape, `noisy, sigma ${s}: ${fmt(before, 2)} dB`, "photo-noisy"),
        canvasOf(shown, clean.shape, `denoised: ${fmt(after, 2)} dB`, "photo-denoised"),
        h("p", { class: "stat", testid: "photo-psnr", "data-before": before, "data-after": after,
          text: `PSNR ${fmt(before, 2)} dB -> ${fmt(after, 2)} dB (${fmt(after - before, 2, true)} dB), ${clean.shape[1]}x${clean.shape[0]} px` }));
      panel.dataset.state = "done";
    } catch (e) {
      if (mine !== seq) return;
      error.textContent = e instanceof ApiError ? `${e.type}: ${e.message}` : String(e);
      error.hidden = false;
      panel.dataset.state = "error";
    }
  }

  sigma.addEventListener("change", run);
  sigma.addEventListener("input", () => { sigmaText.textContent = `sigma ${sigma.value} (0-255 scale)`; });
  button.addEventListener("click", run);
  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    try {
      clean = { ...(await decodeUrl(url)), label: file.name };
      run();
    } catch (e) {
      error.textContent = String(e);
      error.hidden = false;
    } finally {
      URL.revokeObjectURL(url);
    }
  });
  const picks = samples.map((smp, i) => h("button", {
    class: "sample", testid: `photo-sample-${i}`, title: smp.label,
    onclick: () => { clean = smp; run(); },
  }, h("span", { text: smp.label })));
  fill(panel,
    h("p", { class: "muted", text: `Gaussian noise N(0, sigma^2) on the 0-255 scale, seeded, not clipped; the model takes sigma in [${lo}, ${hi}]. Uploads are turned grey and cropped to ${MAX_SIDE} px.` }),
    h("div", { class: "controls" },
      samples.length ? h("div", { class: "samples", testid: "photo-samples" }, picks)
        : h("span", { class: "muted", text: "this model ships no sample images: upload one" }),
      upload, sigma, sigmaText,
      h("button", { class: "secondary", testid: "photo-new-noise", onclick: () => { seed += 1; run(); } }, "new noise"),
      button),
    error, output);
  fill(root, panel);
  await run();
}
