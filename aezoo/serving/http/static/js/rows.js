// Inputs that cannot be drawn: a table's rows (any finite values, in the table's own units)
// and colour images (channel-first RGB). The input is a sample shipped with the model; a
// table row can also be edited as comma-separated numbers.

import { fmt, h } from "./dom.js";

const SHOWN = 16; // columns a row view shows

/** "table" (a model trained on a table), "rgb" (colour images) or "grey" (drawable). */
export function inputMode(spec) {
  const [lo, hi] = spec.value_range;
  if (spec.columns || Math.abs(lo) > 1e30 || Math.abs(hi) > 1e30) return "table";
  if (spec.shape && spec.shape.length === 3) return "rgb";
  return "grey";
}

/** A row of a table as a small two-line table: column names over values (first 16). */
export function rowView(values, columns, label, testid = "row") {
  const names = columns || values.map((_, i) => `x${i}`);
  const shown = values.slice(0, SHOWN);
  const more = values.length > SHOWN ? ` (+${values.length - SHOWN} more)` : "";
  return h("table", { class: "row", testid, "aria-label": label },
    h("tr", {}, shown.map((_, i) => h("th", { text: names[i] }))),
    h("tr", {}, shown.map((v) => h("td", { text: Number.isFinite(v) ? fmt(v, 3) : String(v) }))),
    more ? h("caption", { class: "muted", text: `${label || ""}${more}` }) : null);
}

/** Input and output of denoise side by side: column, input, reconstruction, difference. */
export function compareView(input, output, columns) {
  const names = columns || input.map((_, i) => `x${i}`);
  const rows = input.slice(0, SHOWN).map((v, i) => h("tr", {},
    h("th", { text: names[i] }), h("td", { text: fmt(v, 3) }), h("td", { text: fmt(output[i], 3) }),
    h("td", { text: fmt(output[i] - v, 3, true) })));
  return h("table", { class: "compare", testid: "compare" },
    h("tr", {}, ["column", "input", "decode(encode(x))", "difference"].map((t) => h("th", { text: t }))),
    rows);
}

/**
 * The input of a table or colour-image model: the shipped samples (buttons elsewhere call
 * set), and for a table an editable line of comma-separated numbers. Same interface as the
 * drawing pad: values(), set(values), clear(); node is what the page shows.
 */
export class SampleInput {
  constructor(nFeatures, editable, onChange, preview = null) {
    this.n = nFeatures;
    this.preview = preview; // values -> a node showing the input (a colour image)
    this.shown = h("div", { class: "preview", testid: "input-preview" });
    this.current = new Array(nFeatures).fill(0);
    this.first = this.current;
    this.error = h("p", { class: "error", role: "alert", hidden: true });
    this.text = editable
      ? h("textarea", { class: "rowtext", testid: "row-input", rows: 3, "aria-label": "input row",
        onchange: () => this.#parse() && onChange() })
      : null;
    this.node = h("div", { class: "sampleinput" }, this.shown, this.text, this.error);
  }

  #parse() {
    const values = this.text.value.split(",").map((s) => (s.trim() === "" ? NaN : Number(s)));
    const ok = values.length === this.n;
    this.error.hidden = ok;
    this.error.textContent = ok ? "" : `the model takes ${this.n} comma-separated numbers, got ${values.length}`;
    if (ok) this.current = values;
    return ok;
  }

  values() {
    return this.current.slice();
  }

  set(values) {
    this.current = values.slice();
    if (this.preview) this.shown.replaceChildren(this.preview(values));
    if (this.text) this.text.value = values.map((v) => String(v)).join(", ");
    this.error.hidden = true;
  }

  /** Back to the first sample (a blank row means nothing for a table or a photo). */
  clear() {
    this.set(this.first);
  }

  remember(values) {
    this.first = values.slice();
  }
}
