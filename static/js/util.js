// Small DOM and timing helpers shared by every panel (no framework).

/** Build an element: el("li", {class: "x", text: "hi", onclick: f}, child...). */
export function el(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
                   : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/** Replace every child of `node` (one DOM write instead of many). */
export function fill(node, children) {
  node.replaceChildren(...children);
}

/**
 * Coalesce calls to an async `task`: at most one run in flight and at most one
 * run every `gapMs`; calls made meanwhile collapse into a single rerun. At 200
 * events per second this keeps the page to a few JSON requests per second.
 */
export function coalesce(task, gapMs) {
  let running = false, again = false, timer = null, last = 0;
  async function run() {
    timer = null;
    if (running) { again = true; return; }
    running = true; again = false; last = performance.now();
    try { await task(); } catch (error) { /* the task reports its own errors */ }
    running = false;
    if (again) request();
  }
  function request() {
    if (timer !== null) return;
    if (running) { again = true; return; }
    timer = setTimeout(run, Math.max(0, gapMs - (performance.now() - last)));
  }
  return request;
}

/** Event types about single messages: the most numerous, drawn as arrows. */
export const MESSAGE_TYPES = new Set(["message_sent", "message_delivered", "message_dropped", "message_duplicated"]);

/** node-3 for 3. */
export const nodeName = (id) => `node-${id}`;

/** The id in "node-3" (or the number itself). */
export const nodeId = (name) => Number(String(name).replace("node-", ""));

/** Options for node selects: node-0 … node-(n-1). */
export function nodeOptions(count, first = []) {
  const options = first.map(([value, label]) => el("option", {value, text: label}));
  for (let i = 0; i < count; i++) options.push(el("option", {value: String(i), text: nodeName(i)}));
  return options;
}

/** The regular English plural, as wording.py's plural_of: key -> keys, delivery -> deliveries. */
export function pluralOf(noun) {
  if (/[^aeiou]y$/.test(noun)) return noun.slice(0, -1) + "ies";
  if (/(s|x|z|ch|sh)$/.test(noun)) return noun + "es";
  return noun + "s";
}

/** `count` and the noun, singular for exactly 1, as wording.py's plural: "1 message", "2 messages". */
export function plural(count, noun, many) {
  return `${count} ${count === 1 ? noun : many || pluralOf(noun)}`;
}

/** The verb form for `count` subjects, as wording.py's agrees: agrees(1, "is", "are") == "is". */
export function agrees(count, one, many) {
  return count === 1 ? one : many;
}
