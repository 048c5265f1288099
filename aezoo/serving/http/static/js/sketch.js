// A drawing pad at the model's own resolution (28x28 digits, 32x32 lines), shown enlarged.
// Ink in [0, 1] per pixel maps to the model's value range: 0 -> lo (background), 1 -> hi.

import { drawImage } from "./images.js";

export class Sketchpad {
  /**
   * @param {HTMLCanvasElement} canvas the visible canvas (sized here)
   * @param {number[]} shape (rows, cols) of the model's input
   * @param {number[]} range the model's value range [lo, hi]
   * @param {object} options scale (screen pixels per input pixel), radius (brush, in input
   *   pixels), onStroke (called when a stroke ends)
   */
  constructor(canvas, shape, range, { scale = 10, radius = 1.1, onStroke = () => {} } = {}) {
    this.canvas = canvas;
    this.shape = shape;
    this.range = range;
    this.scale = scale;
    this.radius = radius;
    this.onStroke = onStroke;
    this.ink = new Float32Array(shape[0] * shape[1]);
    this.last = null;
    canvas.style.touchAction = "none";
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    this.render();
  }

  /** The input: a flat array of values in the model's value range. */
  values() {
    const [lo, hi] = this.range;
    return Array.from(this.ink, (k) => lo + k * (hi - lo));
  }

  /** Replace the input by values in the model's value range (a sample, say). */
  set(values) {
    const [lo, hi] = this.range;
    this.ink = Float32Array.from(values, (v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
    this.render();
  }

  clear() {
    this.ink.fill(0);
    this.render();
  }

  isBlank() {
    return this.ink.every((k) => k === 0);
  }

  render() {
    drawImage(this.canvas, this.values(), this.shape, this.range, this.scale);
  }

  #point(e) {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - rect.left) / rect.width) * this.shape[1],
      y: ((e.clientY - rect.top) / rect.height) * this.shape[0],
    };
  }

  // Full ink within radius - 0.5 of the pen's centre, fading to none one pixel further.
  #dab(x, y) {
    const [rows, cols] = this.shape;
    const reach = Math.ceil(this.radius + 1);
    for (let r = Math.floor(y) - reach; r <= Math.floor(y) + reach; r += 1) {
      for (let c = Math.floor(x) - reach; c <= Math.floor(x) + reach; c += 1) {
        if (r < 0 || c < 0 || r >= rows || c >= cols) continue;
        const d = Math.hypot(c + 0.5 - x, r + 0.5 - y);
        const k = Math.min(1, Math.max(0, this.radius + 0.5 - d));
        const i = r * cols + c;
        this.ink[i] = Math.max(this.ink[i], k);
      }
    }
  }

  #segment(a, b) {
    const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) * 4));
    for (let s = 0; s <= steps; s += 1) {
      this.#dab(a.x + ((b.x - a.x) * s) / steps, a.y + ((b.y - a.y) * s) / steps);
    }
  }

  #down(e) {
    this.canvas.setPointerCapture(e.pointerId);
    this.last = this.#point(e);
    this.#dab(this.last.x, this.last.y);
    this.render();
  }

  #move(e) {
    if (!this.last) return;
    const p = this.#point(e);
    this.#segment(this.last, p);
    this.last = p;
    this.render();
  }

  #up() {
    if (!this.last) return;
    this.last = null;
    this.onStroke();
  }
}
