// Building DOM nodes without innerHTML: text is always text, never markup.

/**
 * h("button", {class: "run", testid: "run-encode", onclick: fn}, "Encode")
 * Props: class, testid (data-testid), text, style (an object, set through CSSOM: the page's
 * Content-Security-Policy refuses inline style attributes), on<event> handlers, anything else
 * as an attribute.
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "testid") node.dataset.testid = value;
    else if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace the children of node. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

/** A number with a fixed count of decimals, and a sign when asked. */
export function fmt(x, digits = 2, signed = false) {
  if (x === Infinity) return "∞";
  const text = Number(x).toFixed(digits);
  return signed && x > 0 ? `+${text}` : text;
}
