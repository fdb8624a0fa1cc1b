// What a click on the space-time diagram shows: the message (kind, fields, its
// operation and that operation's story line), with deliver / drop / duplicate for
// a message still in flight; or the event behind a lane mark.
import {api, control} from "./api.js";
import {keptEvents} from "./log.js";
import {el, fill} from "./util.js";

const MAX_STORY = 40;

function storyOf(op) {
  if (op === undefined) return [];
  return keptEvents().filter((e) => e.details.op_id === op && !e.type.startsWith("message_"))
    .slice(0, MAX_STORY).map((e) => el("li", {text: `#${e.seq} t=${e.time_ms}ms ${e.text}`}));
}

function fields(pairs) {
  return el("dl", {class: "facts"}, ...pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
    .flatMap(([label, value]) => [el("dt", {text: label}), el("dd", {text: String(value)})]));
}

/** The message's fields as the network summarised them ("put color v3@node-1"), from its first event. */
function summaryOf(a) {
  const text = a.events[0].text;
  const summary = text.slice(text.indexOf(": ") + 2);
  const reason = a.events[0].details.reason;
  return reason && summary.endsWith(` (${reason})`) ? summary.slice(0, -reason.length - 3) : summary;
}

/** Show one arrow's message in the detail box under the diagram. */
export async function showArrow(a) {
  const box = document.getElementById("msg-detail");
  const status = a.status === "delivered" ? `delivered at t=${a.deliveredAt} ms (flight ${a.deliveredAt - a.sentAt} ms)`
    : a.status === "dropped" ? `dropped at t=${a.deliveredAt} ms: ${a.reason}` : "in flight (held)";
  const parts = [
    el("h3", {text: `Message ${a.id}: ${a.kind}${a.key ? " " + a.key : ""}`}),
    fields([["message", summaryOf(a)], ["from → to", `node-${a.from} → node-${a.to}`], ["sent", `t=${a.sentAt} ms`],
            ["status", status],
            ["latency drawn", a.latency !== undefined ? `${a.latency} ms${a.delayed ? " (delayed by a fault)" : ""}` : ""],
            ["copy of", a.copyOf !== undefined ? `message ${a.copyOf}` : ""],
            ["operation", a.op !== undefined ? `operation ${a.op}` : "none (a background job)"]]),
    el("h4", {text: "This message's events"}),
    el("ol", {class: "plain-list"}, ...a.events.map((e) => el("li", {text: `#${e.seq} t=${e.time_ms}ms ${e.text}`})))];
  const story = storyOf(a.op);
  if (story.length) parts.push(el("h4", {text: `Story of operation ${a.op}`}), el("ol", {class: "story"}, ...story));
  fill(box, parts);
  if (a.status !== "flight") return;
  try {
    const held = (await api("GET", "/network/messages")).messages.find((m) => m.id === a.id);
    if (!held) return;
    const act = (verb) => el("button", {type: "button", class: `st-${verb}`, text: verb,
      onclick: () => control(`${verb} message ${a.id}`, "POST", `/network/${verb}/${a.id}`)});
    box.insertBefore(el("div", {class: "st-held"},
      el("p", {text: `Held: ${held.summary}, due in ${held.due_in_ms} ms.`}),
      el("pre", {class: "st-fields", text: JSON.stringify(held, null, 1)}),
      el("div", {class: "buttons"}, act("deliver"), act("drop"), act("duplicate"))), box.children[2]);
  } catch (error) { /* the server stopped: the page says so elsewhere */ }
}

/** Show the event behind a lane mark (a crash, a partition, a client request...). */
export function showMark(m) {
  fill(document.getElementById("msg-detail"), [
    el("h3", {text: `#${m.seq} t=${m.time} ms: ${m.type}`}),
    el("p", {text: m.text}),
    ...(m.op !== undefined ? [el("h4", {text: `Story of operation ${m.op}`}), el("ol", {class: "story"}, ...storyOf(m.op))] : [])]);
}
