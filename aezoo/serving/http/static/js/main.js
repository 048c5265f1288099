// The gallery: every served model (#/) and one model's page (#/models/NAME) with its
// playground, headline metrics, figures and rendered card. Data: the public v1 API only.

import { api, ApiError, fileUrl, showImage } from "./api.js";
import { frontMatter, renderCard } from "./card.js";
import { fill, fmt, h } from "./dom.js";
import { mountPhotoPlayground } from "./photo.js";
import { mountPlayground } from "./playground.js";
import { inputMode } from "./rows.js";

const app = document.getElementById("app");

// [metric key, label, unit, decimals]; the first present ones are a model's headline.
const HEADLINE = [
  ["test_error_pct", "test error", "%", 2],
  ["probe_accuracy_pct", "linear probe on the code", "%", 1],
  ["recon_psnr_db", "reconstruction PSNR", " dB", 1],
  ["denoise_gain_db", "denoise gain, 25% masking", " dB", 1],
  ["code_zero_pct", "exact zeros in the code", "%", 1],
  ["lines_mean_distance", "interpolation Mean Distance (lower is better)", "", 4],
  ["lines_smoothness", "interpolation Smoothness (lower is better)", "", 2],
];

/** Headline metrics of a model; the denoise gain is computed where only its two ends were kept. */
function headline(metrics) {
  const m = { ...(metrics || {}) };
  if (m.denoise_gain_db === undefined && m.masking25_denoised_psnr_db !== undefined) {
    m.denoise_gain_db = m.masking25_denoised_psnr_db - m.masking25_noisy_psnr_db;
  }
  return HEADLINE.filter(([key]) => typeof m[key] === "number").map(([key, label, unit, digits]) => ({
    key,
    label,
    text: `${fmt(m[key], digits, key === "denoise_gain_db")}${unit}`,
    worse: key === "denoise_gain_db" && m[key] < 0,
  }));
}

function metricList(metrics) {
  return h("dl", { class: "headline" }, headline(metrics).map((m) => h("div", { class: m.worse ? "metric worse" : "metric", testid: `metric-${m.key}` },
    h("dt", { text: m.label }), h("dd", { text: m.text }))));
}

function opsBadges(ops) {
  return h("span", { class: "ops" }, ops.map((op) => h("span", { class: "badge", text: op })));
}

function inputSummary(spec, denoiser) {
  if (denoiser) return `photographs of any size (>= ${denoiser.min_size} px a side), noise sigma ${denoiser.sigma_range.join("-")}`;
  const shape = spec.shape ? spec.shape.join("x") : String(spec.n_features);
  if (inputMode(spec) === "table") return `${spec.n_features} columns, any finite values`;
  return `${shape} in [${spec.value_range.join(", ")}]`;
}

function problem(e) {
  const text = e instanceof ApiError ? `${e.type}: ${e.message}` : String(e);
  return h("p", { class: "error", role: "alert", text });
}

/** Wait while the server loads its models (GET /health/ready answers 503 meanwhile). */
async function waitReady() {
  for (;;) {
    const ready = await api.ready();
    if (ready.status === "ready") return true;
    if (ready.status === "failed") {
      fill(app, problem(`models failed to load: ${ready.error}`));
      return false;
    }
    fill(app, h("p", { class: "muted", text: "models are loading…" }));
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function listPage() {
  const { models } = await api.models();
  const cards = await Promise.all(models.map((m) => api.model(m.name)));
  const files = await Promise.all(models.map((m) => api.files(m.name).then((r) => r.files, () => [])));
  document.title = "aezoo gallery";
  fill(app,
    h("h1", { text: `${models.length} served model${models.length === 1 ? "" : "s"}` }),
    h("div", { class: "grid", testid: "model-list" }, cards.map((card, i) => {
      const figures = files[i].filter((f) => f.path.startsWith("figures/")).map((f) => f.path);
      const preview = figures.find((p) => p.endsWith("interpolation.png")) || figures[0];
      const link = `#/models/${encodeURIComponent(card.name)}`;
      return h("section", { class: "tile", testid: `model-${card.name}` },
        h("h2", {}, h("a", { href: link, testid: `open-${card.name}`, text: card.name }),
          h("small", { class: "muted", text: ` v${card.version} · ${card.family}` })),
        opsBadges(card.operations),
        h("p", { class: "muted", text: `input ${inputSummary(card.input, card.denoiser)}; code ${card.n_components} units` }),
        metricList(card.metrics),
        preview && h("a", { href: link }, showImage(h("img", { alt: `${card.name}: ${preview}`, loading: "lazy" }), fileUrl(card.name, preview))));
    })));
}

async function modelPage(name) {
  const info = await api.model(name);
  const { files } = await api.files(name);
  document.title = `${name} · aezoo gallery`;
  const figures = files.filter((f) => f.path.startsWith("figures/"));
  const playground = h("section", { class: "playground", testid: "playground" }, h("p", { class: "muted", text: "loading the playground…" }));
  const metrics = Object.entries(info.metrics || {}).filter(([, v]) => typeof v === "number");
  const meta = frontMatter(info.card);
  fill(app,
    h("p", {}, h("a", { href: "#/", text: "← all models" })),
    h("h1", { testid: "model-name" }, name, h("small", { class: "muted", text: ` v${info.version} · ${info.family}` })),
    opsBadges(info.operations),
    h("p", { class: "muted", text: `input ${inputSummary(info.input, info.denoiser)} (${info.input.preprocessing || "see the card"}); code ${info.n_components} units` }),
    metricList(info.metrics),
    h("h2", { text: "Playground" }),
    playground,
    figures.length > 0 && [h("h2", { text: "Figures" }), h("div", { class: "figures" }, figures.map((f) => h("figure", {},
      showImage(h("img", { alt: `${name}: ${f.path}`, loading: "lazy" }), fileUrl(name, f.path)),
      h("figcaption", { text: f.path }))))],
    metrics.length > 0 && [h("h2", { text: "All metrics" }), h("table", { class: "metrics", testid: "metrics" },
      h("tbody", {}, metrics.map(([k, v]) => h("tr", {}, h("th", { text: k }), h("td", { text: fmt(v, 4) })))))],
    h("h2", { text: "Model card" }),
    renderCard(info.card || "*This artifact has no README.md.*", name),
    meta && h("details", {}, h("summary", { text: "card metadata (YAML)" }), h("pre", { text: meta })));
  try {
    if (info.denoiser) await mountPhotoPlayground(playground, info, files, api.samples);
    else await mountPlayground(playground, info, files);
  } catch (e) {
    fill(playground, problem(e));
  }
}

async function route() {
  try {
    if (!(await waitReady())) return;
    const match = location.hash.match(/^#\/models\/([^/]+)$/);
    if (match) await modelPage(decodeURIComponent(match[1]));
    else await listPage();
    window.scrollTo(0, 0);
  } catch (e) {
    fill(app, problem(e));
  }
}

window.addEventListener("hashchange", route);
route();
