// The playground of one model: an input (drawn, or a real sample shipped with the model)
// and a panel per operation the model offers. Every result comes from the v1 HTTP API.

import { api, ApiError } from "./api.js";
import { fill, fmt, h } from "./dom.js";
import * as px from "./images.js";
import { compareView, inputMode, rowView, SampleInput } from "./rows.js";
import { Sketchpad } from "./sketch.js";

const TITLES = {
  encode: "Encode",
  denoise: "Denoise",
  classify: "Classify",
  interpolate: "Interpolate",
  score: "Score",
};
const HELP = {
  encode: "The code z = encoder(x) as bars (blue > 0, red < 0, gaps exactly 0) and as an image.",
  denoise: "Corrupt the input, then decoder(encoder(noisy)); PSNR against the clean input.",
  classify: "Class probabilities from the model's supervised head.",
  interpolate: "Decode codes mixed linearly from encode(a) to encode(b): a strip of N steps.",
  score: "Anomaly score of the input (the energy the model was trained to lower: higher = less "
    + "like its training data) against the threshold calibrated on held-out normal data.",
};

const NO_SAMPLES = { inputs: [], labels: [], source: null };

/** The artifact's samples.json (real test inputs) when it lists one, else none. */
async function loadSamples(name, files) {
  if (!files.some((f) => f.path === "samples.json")) return NO_SAMPLES;
  const s = await api.samples(name);
  return { inputs: s.inputs, labels: s.labels || s.inputs.map((_, i) => `#${i}`), source: s.source };
}

/** One operation's panel: a run button, an output area and an error line; stale replies dropped. */
class Panel {
  constructor(op, controls, run) {
    this.op = op;
    this.seq = 0;
    this.output = h("div", { class: "output", testid: `output-${op}` });
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.button = h("button", { class: "run", testid: `run-${op}`, onclick: () => this.run() }, TITLES[op]);
    this.node = h(
      "div",
      { class: "panel", role: "tabpanel", testid: `panel-${op}`, hidden: true },
      h("p", { class: "muted", text: HELP[op] }),
      h("div", { class: "controls" }, controls, this.button),
      this.error,
      this.output,
    );
    this.runner = run;
  }

  async run() {
    const seq = ++this.seq;
    this.node.dataset.state = "running";
    this.error.hidden = true;
    try {
      const draw = await this.runner();
      if (seq !== this.seq) return; // a newer run replaced this one
      fill(this.output, draw);
      this.node.dataset.state = "done";
    } catch (e) {
      if (seq !== this.seq) return;
      this.error.textContent = e instanceof ApiError ? `${e.type}: ${e.message}` : String(e);
      this.error.hidden = false;
      this.node.dataset.state = "error";
    }
  }
}

/**
 * Mount the playground of model `info` (GET /v1/models/{name}) into `root`; `files` is its
 * list of public files (GET /v1/models/{name}/files).
 */
export async function mountPlayground(root, info, files) {
  const spec = info.input;
  const mode = inputMode(spec); // grey: drawn; rgb, table: samples (a table row editable)
  const shape = px.imageShape(spec);
  const range = spec.value_range;
  const [lo, hi] = range;
  const scale = Math.max(2, Math.floor(288 / Math.max(...shape)));
  const thumb = Math.max(2, Math.floor(56 / Math.max(...shape)));
  const samples = await loadSamples(info.name, files);
  const channels = mode === "rgb" ? 3 : 1;
  const image = (values, label, s = thumb) => (mode === "table"
    ? rowView(values, spec.columns, label)
    : px.imageCanvas(values, shape, range, s, label, channels));
  const figure = (canvas, caption, testid) =>
    h("figure", { class: "result", testid }, canvas, h("figcaption", { text: caption }));

  const panels = {};
  let active = null;
  const rerun = () => active && panels[active].run();
  const pad = mode === "grey"
    ? new Sketchpad(h("canvas", { class: "sketch", testid: "sketchpad" }), shape, range, {
      scale,
      radius: Math.max(...shape) >= 32 ? 1.0 : 1.1,
      onStroke: rerun,
    })
    : new SampleInput(spec.n_features, mode === "table", rerun,
      mode === "rgb" ? (v) => px.imageCanvas(v, shape, range, scale, "input", 3) : null);
  const input = () => pad.values();

  // -- encode --------------------------------------------------------------------------
  panels.encode = new Panel("encode", [], async () => {
    const z = (await api.run(info.name, "encode", { inputs: [input()] })).codes[0];
    const stats = px.codeStats(z);
    const bars = h("canvas", { class: "codebars", testid: "code-bars" });
    px.drawCodeBars(bars, z);
    const grid = px.gridShape(z.length);
    const span = [Math.min(0, stats.min), Math.max(stats.max, 1e-12)];
    return [
      h("p", { class: "stat", testid: "sparsity" },
        `${stats.zeros} of ${stats.n} code units are exactly 0 (${fmt(100 * stats.sparsity, 1)}% sparse); `
          + `mean |z| ${fmt(stats.meanAbs, 3)}, range [${fmt(stats.min, 3)}, ${fmt(stats.max, 3)}]`),
      figure(bars, `z, ${stats.n} units`, "code-strip"),
      figure(px.imageCanvas(z, grid, span, Math.max(3, Math.floor(160 / grid[1]))),
        `z as a ${grid[0]}x${grid[1]} image (black = ${fmt(span[0], 2)})`, "code-image"),
    ];
  });

  // -- denoise -------------------------------------------------------------------------
  const kind = h("select", { testid: "noise-kind", "aria-label": "noise" },
    h("option", { value: "masking", text: "masking noise" }),
    h("option", { value: "gaussian", text: "Gaussian noise" }));
  const level = h("input", { type: "range", min: 0, max: 0.9, step: 0.05, value: 0.25, testid: "noise-level", "aria-label": "noise level" });
  const levelText = h("output", { text: "25%" });
  if (mode === "table") { // masking writes lo: a table has no background value
    kind.querySelector("option[value=masking]").remove();
    level.value = 0.05;
  }
  const showLevel = () => {
    level.max = kind.value === "masking" ? 0.9 : 0.5;
    levelText.textContent = kind.value === "masking"
      ? `${Math.round(100 * level.value)}% of pixels set to ${fmt(lo, 0)}`
      : mode === "table"
        ? `std ${fmt(level.value, 2)} x |value| per column`
        : `std ${fmt(level.value, 2)} x ${fmt(hi - lo, 0)}`;
  };
  let noiseSeed = 0;
  panels.denoise = new Panel("denoise", [kind, level, levelText,
    h("button", { class: "secondary", onclick: () => { noiseSeed += 1; panels.denoise.run(); } }, "new noise")],
  async () => {
    const clean = input();
    if (mode === "table") { // relative Gaussian noise in the table's own units; no PSNR
      const rand = px.randomStream(noiseSeed);
      const noisy = clean.map((v) => v + Number(level.value) * Math.abs(v)
        * Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand()));
      const out = (await api.run(info.name, "denoise", { inputs: [noisy] })).outputs[0];
      const mad = out.reduce((acc, v, i) => acc + Math.abs(v - clean[i]), 0) / out.length;
      return [compareView(clean, out, spec.columns),
        h("p", { class: "stat", testid: "psnr", text: `mean |decode(encode(noisy)) - input| ${fmt(mad, 4)} (input and output in the table's units; the first ${Math.min(16, out.length)} columns shown)` })];
    }
    const noisy = px.addNoise(clean, kind.value, Number(level.value), range, noiseSeed);
    const out = (await api.run(info.name, "denoise", { inputs: [noisy] })).outputs[0];
    const peak = hi - lo;
    const before = px.psnr(clean, noisy, peak);
    const after = px.psnr(clean, out, peak);
    const big = Math.max(2, Math.floor(scale / 2));
    return [
      h("div", { class: "strip" },
        figure(image(clean, "clean", big), "clean input", "clean"),
        figure(image(noisy, "noisy", big), `noisy: ${fmt(before, 1)} dB`, "noisy"),
        figure(image(out, "denoised", big), `denoised: ${fmt(after, 1)} dB`, "denoised")),
      h("p", { class: "stat", testid: "psnr" },
        `PSNR against the clean input (peak ${fmt(peak, 0)}): noisy ${fmt(before, 2)} dB, `
          + `denoised ${fmt(after, 2)} dB, gain ${fmt(after - before, 2, true)} dB`),
    ];
  });
  for (const control of [kind, level]) {
    control.addEventListener("input", () => { showLevel(); panels.denoise.run(); });
  }
  showLevel();

  // -- classify ------------------------------------------------------------------------
  panels.classify = new Panel("classify", [], async () => {
    const reply = await api.run(info.name, "classify", { inputs: [input()] });
    const p = reply.probabilities[0];
    const names = info.class_names || p.map((_, i) => String(i));
    const total = p.reduce((a, b) => a + b, 0);
    const best = p.indexOf(Math.max(...p));
    return [
      h("p", { class: "label" }, "label ", h("output", { testid: "label", text: reply.labels[0] }),
        h("span", { class: "muted", text: ` with p = ${fmt(p[best], 3)}` })),
      h("div", { class: "bars", testid: "probabilities", role: "list" },
        p.map((v, i) => h("div", { class: i === best ? "barrow best" : "barrow", role: "listitem",
          testid: "proba", "data-label": names[i], "data-p": v },
        h("span", { class: "name", text: names[i] }),
        h("span", { class: "track" }, h("span", { class: "fill", style: { width: `${(100 * v).toFixed(2)}%` } })),
        h("span", { class: "value", text: fmt(v, 3) })))),
      h("p", { class: "muted", testid: "proba-sum", text: `sum of probabilities ${fmt(total, 4)}` }),
    ];
  });

  // -- interpolate ---------------------------------------------------------------------
  const choices = [
    ["drawing", mode === "grey" ? "the drawing" : "the input"],
    ...(mode === "grey" ? [["blank", "blank"]] : []),
    ...samples.inputs.map((_, i) => [`sample-${i}`, `sample ${samples.labels[i]}`]),
  ];
  const picker = (testid, initial) => h("select", { testid, "aria-label": testid },
    choices.map(([value, text]) => h("option", { value, text, selected: value === initial })));
  const pickA = picker("interp-a", samples.inputs.length > 0 ? "sample-0" : "drawing");
  const pickB = picker("interp-b", samples.inputs.length > 1 ? "sample-1" : "blank");
  const steps = h("input", { type: "number", min: 2, max: 32, value: 8, testid: "steps", "aria-label": "steps" });
  const chosen = (value) => {
    if (value === "drawing") return input();
    if (value === "blank") return new Array(spec.n_features).fill(lo);
    return samples.inputs[Number(value.split("-")[1])];
  };
  panels.interpolate = new Panel("interpolate", [h("label", {}, "a ", pickA), h("label", {}, "b ", pickB),
    h("label", {}, "steps ", steps)], async () => {
    const n = Number(steps.value);
    const rows = (await api.run(info.name, "interpolate", { a: chosen(pickA.value), b: chosen(pickB.value), steps: n })).outputs;
    const big = Math.max(2, Math.floor(thumb * 1.5));
    return [
      h("div", { class: "strip", testid: "interpolation-strip" },
        rows.map((row, i) => {
          const alpha = rows.length > 1 ? i / (rows.length - 1) : 0;
          const canvas = image(row, `step ${i}`, big);
          canvas.classList.add("frame");
          canvas.dataset.testid = "frame";
          return h("figure", { class: "result" }, canvas, h("figcaption", { text: `α ${fmt(alpha, 2)}` }));
        })),
      h("p", { class: "muted", text: `${rows.length} decoded steps from a (α 0) to b (α 1)` }),
    ];
  });

  // -- score ---------------------------------------------------------------------------
  panels.score = new Panel("score", [], async () => {
    const reply = await api.run(info.name, "score", { inputs: [input()] });
    return scoreView(reply.scores[0], reply.threshold,
      reply.is_outlier ? reply.is_outlier[0] : null, reply.p_values ? reply.p_values[0] : null);
  });

  // -- layout ----------------------------------------------------------------------------
  const ops = info.operations.filter((op) => op in panels);
  const tabs = ops.map((op) => h("button", { role: "tab", class: "tab", testid: `tab-${op}`,
    onclick: () => select(op) }, TITLES[op]));
  function select(op) {
    active = op;
    ops.forEach((o, i) => {
      panels[o].node.hidden = o !== op;
      tabs[i].setAttribute("aria-selected", String(o === op));
    });
    panels[op].run();
  }
  const sampleButtons = samples.inputs.map((values, i) => h("button", {
    class: "sample", testid: `sample-${i}`, title: samples.labels[i],
    onclick: () => { pad.set(values); if (active) panels[active].run(); },
  }, mode === "table" ? null : image(values, samples.labels[i]), h("span", { text: samples.labels[i] })));
  const what = mode === "table"
    ? `a row of ${spec.n_features} values in the table's own units`
    : `${shape.join("x")}${channels === 3 ? " RGB" : ""}, values in [${fmt(lo, 0)}, ${fmt(hi, 0)}]`;

  fill(root,
    h("div", { class: "pg-input" },
      h("h3", {}, "Input ", h("small", { class: "muted", text: what })),
      mode === "grey" ? pad.canvas : pad.node,
      mode === "grey"
        ? h("div", { class: "controls" },
          h("button", { class: "secondary", testid: "clear", onclick: () => { pad.clear(); if (active) panels[active].run(); } }, "clear"),
          h("span", { class: "muted", text: "draw with the mouse or a finger" }))
        : h("p", { class: "muted", text: mode === "table" ? "edit the numbers, or pick a sample" : "pick a sample" }),
      samples.inputs.length
        ? [h("p", { class: "muted", text: `or start from a real input shipped with the model (${samples.source}):` }),
          h("div", { class: "samples", testid: "samples" }, sampleButtons)]
        : h("p", { class: "muted", text: "this artifact ships no samples.json: draw an input" })),
    h("div", { class: "pg-ops" },
      h("div", { class: "tabs", role: "tablist" }, tabs),
      ops.map((op) => panels[op].node)));
  if (samples.inputs.length) {
    pad.set(samples.inputs[0]);
    if (pad.remember) pad.remember(samples.inputs[0]);
  }
  if (ops.length) select(ops.includes("classify") ? "classify" : ops[0]);
}

/**
 * The score panel's output: the score, and against a calibrated threshold a gauge (the
 * threshold at its middle), the verdict and the conformal p-value; an uncalibrated model
 * (threshold null, POST /v1/models/{name}/score) says that it has no threshold.
 */
export function scoreView(score, threshold, outlier, pValue) {
  const sig = (x) => Number(x).toPrecision(4); // a score's unit is the model's: any magnitude
  const value = h("p", { class: "stat", testid: "score-value", "data-score": score },
    `anomaly score ${sig(score)}`);
  if (threshold === null || threshold === undefined) {
    return [value, h("p", { class: "verdict none", testid: "score-verdict", "data-verdict": "none",
      text: "no threshold: this model is not calibrated, so the score is not judged "
        + "(aezoo calibrate sets one on held-out normal data)" })];
  }
  const share = Math.min(1, score / (2 * threshold)); // the threshold sits at 50%
  return [
    value,
    h("div", { class: "gauge", testid: "score-gauge", role: "meter", "aria-valuenow": score,
      "aria-label": "score against the threshold" },
    h("span", { class: outlier ? "fill outlier" : "fill", style: { width: `${(100 * share).toFixed(1)}%` } }),
    h("span", { class: "mark", title: `threshold ${sig(threshold)}` })),
    h("p", { class: outlier ? "verdict outlier" : "verdict normal", testid: "score-verdict",
      "data-verdict": outlier ? "outlier" : "normal", "data-threshold": threshold,
      text: `${outlier ? "outlier" : "normal"}: score ${outlier ? ">" : "<="} threshold ${sig(threshold)}` }),
    h("p", { class: "muted", testid: "score-p", "data-p": pValue,
      text: `p-value ${fmt(pValue, 3)}: share of the calibration rows scoring at least this high` }),
  ];
}
