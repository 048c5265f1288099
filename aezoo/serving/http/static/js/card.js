// A model card (the artifact's README.md) as HTML: marked renders it, DOMPurify strips
// anything active (scripts, handlers), relative figure links point at the files route.

import { marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";
import { fileUrl, showImage } from "./api.js";

const FRONT_MATTER = /^---\r?\n[\s\S]*?\r?\n---\r?\n/;
const ABSOLUTE = /^(?:[a-z][a-z0-9+.-]*:|\/|#)/i;

/** The card's YAML front matter (Hub metadata), or "" when there is none. */
export function frontMatter(markdown) {
  const match = markdown.match(FRONT_MATTER);
  return match ? match[0].replace(/^---\r?\n|\r?\n---\r?\n$/g, "") : "";
}

/** An <article> with the rendered, sanitised card of model `name`. */
export function renderCard(markdown, name) {
  const html = marked.parse(markdown.replace(FRONT_MATTER, ""), { gfm: true });
  const article = document.createElement("article");
  article.className = "card";
  article.innerHTML = DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  for (const img of article.querySelectorAll("img[src]")) {
    const src = img.getAttribute("src");
    if (!ABSOLUTE.test(src)) showImage(img, fileUrl(name, src.replace(/^\.\//, "")));
    img.loading = "lazy";
  }
  for (const link of article.querySelectorAll("a[href]")) {
    link.rel = "noopener noreferrer";
  }
  return article;
}
