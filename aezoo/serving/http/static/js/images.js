// Pixels and codes on canvases, noise, and PSNR: the numeric side of the playground.
// An input is a flat array of n_features values in the model's value range [lo, hi],
// row-major in its image shape (rows, cols).

/** (rows, cols) to draw n values as an image: the model's 2-D shape (the last two of a
 * channel-first [3, H, W]), else a square, else one row. */
export function imageShape(spec) {
  if (spec.shape && spec.shape.length === 2) return spec.shape;
  if (spec.shape && spec.shape.length === 3) return spec.shape.slice(1);
  const side = Math.round(Math.sqrt(spec.n_features));
  return side * side === spec.n_features ? [side, side] : [1, spec.n_features];
}

/** Draw values as an image: lo black, hi white; each value a scale x scale block; with
 * channels 3, values are channel-first RGB (r plane, g plane, b plane). */
export function drawImage(canvas, values, shape, range, scale, channels = 1) {
  const [rows, cols] = shape;
  const [lo, hi] = range;
  canvas.width = cols * scale;
  canvas.height = rows * scale;
  const small = document.createElement("canvas");
  small.width = cols;
  small.height = rows;
  const image = new ImageData(cols, rows);
  const n = rows * cols;
  const level = (v) => Math.max(0, Math.min(255, Math.round((255 * (v - lo)) / (hi - lo))));
  for (let i = 0; i < n; i += 1) {
    const g = level(values[i]);
    const rgb = channels === 3 ? [g, level(values[i + n]), level(values[i + 2 * n])] : [g, g, g];
    image.data.set([...rgb, 255], 4 * i);
  }
  small.getContext("2d").putImageData(image, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** A canvas with an image drawn on it (for strips and thumbnails). */
export function imageCanvas(values, shape, range, scale, label, channels = 1) {
  const canvas = document.createElement("canvas");
  drawImage(canvas, values, shape, range, scale, channels);
  if (label) canvas.setAttribute("aria-label", label);
  return canvas;
}

/** The factor pair (rows, cols) of n closest to a square, rows <= cols. */
export function gridShape(n) {
  let rows = Math.floor(Math.sqrt(n));
  while (n % rows !== 0) rows -= 1;
  return [rows, n / rows];
}

/** Draw a code as bars around a zero line; exact zeros leave a gap. */
export function drawCodeBars(canvas, codes, height = 96) {
  const n = codes.length;
  const bar = Math.max(1, Math.min(6, Math.floor(720 / n)));
  canvas.width = n * bar;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const peak = Math.max(1e-12, ...codes.map(Math.abs));
  const hasNegative = codes.some((z) => z < 0);
  const zero = hasNegative ? height / 2 : height - 1;
  const span = hasNegative ? height / 2 - 1 : height - 2;
  ctx.fillStyle = "#f4f5f7";
  ctx.fillRect(0, 0, canvas.width, height);
  codes.forEach((z, i) => {
    if (z === 0) return;
    const h = (Math.abs(z) / peak) * span;
    ctx.fillStyle = z > 0 ? "#2f6fde" : "#d9534f";
    ctx.fillRect(i * bar, z > 0 ? zero - h : zero, Math.max(1, bar - (bar > 2 ? 1 : 0)), Math.max(1, h));
  });
  ctx.fillStyle = "#888";
  ctx.fillRect(0, zero, canvas.width, 1);
}

/** Summary of a code: exact zeros (sparsity), range and mean |z|. */
export function codeStats(codes) {
  const n = codes.length;
  const zeros = codes.filter((z) => z === 0).length;
  const meanAbs = codes.reduce((s, z) => s + Math.abs(z), 0) / n;
  return { n, zeros, sparsity: zeros / n, min: Math.min(...codes), max: Math.max(...codes), meanAbs };
}

/** Peak signal-to-noise ratio in dB, 10 log10(peak^2 / MSE); Infinity when equal. */
export function psnr(reference, x, peak) {
  let sum = 0;
  for (let i = 0; i < reference.length; i += 1) sum += (reference[i] - x[i]) ** 2;
  const mse = sum / reference.length;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function randomStream(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Corrupt an input. masking: each value is set to the background lo with probability
 * level (the masking noise of denoising autoencoders, Vincent et al. 2010); gaussian:
 * add level * (hi - lo) * N(0, 1), clipped to [lo, hi]. Same seed, same noise.
 */
export function addNoise(values, kind, level, range, seed = 0) {
  const [lo, hi] = range;
  const rand = randomStream(seed);
  return values.map((v) => {
    if (kind === "masking") return rand() < level ? lo : v;
    const u1 = Math.max(rand(), 1e-12);
    const gauss = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rand());
    return Math.min(hi, Math.max(lo, v + level * (hi - lo) * gauss));
  });
}
