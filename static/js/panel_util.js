// What the app panels share: a request whose answer (or error) shows in the panel's
// own result box, with its sentence, facts and story, and a node picker.
import {api} from "./api.js";
import {showResult} from "./controls.js";
import {el, fill, nodeOptions} from "./util.js";

let afterRequest = () => {};

/** What to run after every panel request (the dashboard refreshes its views). */
export function onPanelRequest(callback) { afterRequest = callback; }

/** Call the API; show the answer in box `boxId`; resolve to the answer, or null on an error. */
export async function ask(boxId, what, method, path, body) {
  try {
    const answer = await api(method, path, body);
    showResult(answer, null, what, boxId);
    return answer;
  } catch (error) {
    showResult(null, error, what, boxId);
    return null;
  } finally {
    afterRequest();
  }
}

/** Read JSON quietly (for the lists a panel shows); null when it fails. */
export async function peek(path) {
  try { return await api("GET", path); } catch (error) { return null; }
}

/** Fill every `.node-select-auto` with "auto" and the nodes. */
export function fillNodePickers(count) {
  document.querySelectorAll(".node-select-auto").forEach((select) => fill(select, nodeOptions(count, [["", "auto"]])));
}

/** A value shown whole: short JSON inline, long JSON in an expandable block. */
export function wholeValue(value, limit = 60) {
  const text = JSON.stringify(value);
  if (text === undefined || text.length <= limit) return el("code", {class: "value", text: text ?? "–"});
  return el("details", {class: "value"}, el("summary", {text: text.slice(0, limit - 1) + "…"}),
            el("pre", {text: JSON.stringify(value, null, 1)}));
}

/** Add label/value lines (dt/dd) to a panel's result box, under its sentence and above the story. */
export function addFacts(boxId, pairs) {
  const rows = pairs.filter(([, v]) => v !== undefined && v !== null && v !== "");
  if (!rows.length) return;
  const facts = el("dl", {class: "facts app-facts"},
    ...rows.flatMap(([label, value]) => [el("dt", {text: label}), el("dd", {text: String(value)})]));
  const box = document.getElementById(boxId);
  const head = box.querySelector(":scope > p");
  if (head) head.after(facts); else box.prepend(facts);
}

/** Run `handler` on a form's submit or a button's click, without reloading the page. */
export function on(id, handler) {
  const node = document.getElementById(id);
  node.addEventListener(node.tagName === "FORM" ? "submit" : "click", (event) => {
    event.preventDefault();
    handler();
  });
}

/** A sibling's dot as text ({node-1: 2}), whether an answer gives it as text or as [node, counter] beside `vector`. */
export function dotText(sibling) {
  return typeof sibling.dot === "string" ? sibling.dot : sibling.vector;
}
