// Siblings panel (lab 10): every sibling of the last read or write with its dot, the
// context to write back with, why they are siblings, and a write-back form (which a
// merge-by-union button fills).
import {onKeyAnswer, parseValue, send} from "./controls.js";
import {dotText, wholeValue} from "./panel_util.js";
import {el, fill, plural} from "./util.js";

const value = (id) => document.getElementById(id).value.trim();
const MAX_CONTEXTS = 8;
const contexts = [];  // the latest answers' contexts, newest first: a step may need an older one
let last = null;

/** Wire the write-back form; follow every key answer of the page. */
export function setupSiblings() {
  onKeyAnswer(showSiblings);
  document.getElementById("writeback-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {key: value("wb-key"), value: parseValue(value("wb-value"))};
    if (value("wb-context")) body.context = value("wb-context");
    if (value("wb-coordinator")) body.coordinator = Number(value("wb-coordinator"));
    if (value("wb-w")) body.w = Number(value("wb-w"));
    send("write", body.key, `write back ${body.key}=${JSON.stringify(body.value)}`, "POST", "/write", body);
  });
  document.getElementById("wb-union").addEventListener("click", () => {
    if (!last) return;
    const items = new Set();
    last.siblings.filter((s) => Array.isArray(s.value)).forEach((s) => s.value.forEach((x) => items.add(JSON.stringify(x))));
    document.getElementById("wb-value").value = JSON.stringify([...items].map((x) => JSON.parse(x)).sort());
    document.getElementById("wb-context").value = last.context;
  });
}

/** Show an answer's siblings and context (nothing for a last-writer-wins answer). */
export function showSiblings(answer) {
  if (!answer || !answer.siblings) return;
  last = answer;
  const write = "supersedes" in answer;
  document.getElementById("siblings-summary").textContent =
    `${write ? "Write" : "Read"} of '${answer.key}': ${plural(answer.siblings.length, "sibling")}; context ${answer.context_vector}` +
    (write ? `; dot ${answer.dot}; supersedes ${answer.supersedes}` : "");
  fill(document.getElementById("sibling-list"), answer.siblings.map((s) => el("li", {class: "sibling", "data-dot": dotText(s)},
    el("strong", {class: "sibling-dot", text: `dot ${dotText(s)}`}), " ", s.deleted ? el("em", {text: "(deleted)"}) : wholeValue(s.value),
    el("span", {class: "muted", text: ` written at t=${s.at} ms`}))));
  document.getElementById("siblings-conflict").textContent = answer.conflict || "";
  document.getElementById("wb-key").value = answer.key;
  document.getElementById("wb-context").value = answer.context;
  const box = document.getElementById("siblings-result");
  fill(box, [el("p", {class: "result-ok", text: answer.message}),
             el("p", {class: "context-line"}, "context to write back with: ", el("code", {id: "siblings-context", text: answer.context}))]);
  contexts.unshift({what: `${write ? "write" : "read"} ${answer.key}` + (write ? ` ${JSON.stringify(answer.value)}` : ""),
                    vector: answer.context_vector, context: answer.context, key: answer.key});
  contexts.splice(MAX_CONTEXTS);
  fill(document.getElementById("context-list"), contexts.map((c, i) => el("li", {class: "context-item"},
    el("button", {type: "button", class: "use-context", "data-index": String(i), text: "use",
                  "aria-label": `Write back with the context of ${c.what}`,
                  onclick: () => { document.getElementById("wb-context").value = c.context; document.getElementById("wb-key").value = c.key; }}),
    ` ${c.what}: context ${c.vector}`)));
}
