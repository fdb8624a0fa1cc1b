// History and checker panel (lab 9): the recorded invokes and completions, clear,
// check with the verdict and its explanation; a link to the checker's own verdict
// page when the server has one. The consistency mode is chosen in the Controls form.
import {addFacts, ask, on, peek} from "./panel_util.js";
import {el, fill, plural} from "./util.js";

const BOX = "check-result";
const MAX_ROWS = 200;
const keyFilter = () => document.getElementById("history-key").value.trim();
const query = () => (keyFilter() ? `?key=${encodeURIComponent(keyFilter())}` : "");


/** Wire the history buttons; link the verdict page if the server lists one. */
export function setupHistory(endpoints) {
  on("history-form", refreshHistory);
  on("history-clear", async () => {
    await ask(BOX, "Clearing the history", "DELETE", "/history");
    refreshHistory();
  });
  on("history-check", async () => {
    const answer = await ask(BOX, "The checker", "GET", `/check${query()}`);
    if (!answer) return;
    const box = document.getElementById(BOX);
    box.classList.toggle("verdict-bad", answer.linearizable === false);
    box.classList.toggle("verdict-good", answer.linearizable === true);
    addFacts(BOX, [["verdict", answer.result.replaceAll("_", " ")],
                   ["checked", `${plural(answer.ops_checked, "operation")} on ${plural(answer.keys_checked, "key")}, model ${answer.model}`],
                   ...answer.violations.map((v) => [`key ${v.key}`, v.message]),
                   ["unknown keys", answer.unknown_keys.join(", ")]]);
    refreshHistory();
  });
  // The checker's HTML verdict view, when this server has one: link it rather than build another.
  const page = Object.keys(endpoints || {}).find((e) => e.startsWith("GET /check") && e !== "GET /check" ||
                                                        /verdict|html/i.test(e));
  if (page) {
    const link = document.getElementById("history-verdict-link");
    const path = page.replace(/^GET /, "").replace(/<[^>]+>/g, "");
    const point = () => { link.href = `${path}${query()}`; };  // the picture of the key being looked at
    document.getElementById("history-key").addEventListener("input", point);
    point();
    link.hidden = false;
  }
}

/** Show the recorded history (reading it changes nothing in the cluster). */
export async function refreshHistory() {
  const answer = await peek(`/history${query()}${query() ? "&" : "?"}limit=${MAX_ROWS}`);
  if (!answer) return;
  document.getElementById("history-summary").textContent = answer.message;
  fill(document.querySelector("#history-table tbody"), answer.events.map((e) =>
    el("tr", {class: `hist hist-${e.type}`},
       el("td", {text: String(e.index)}), el("td", {text: e.process}), el("td", {class: "hist-type", text: e.type}),
       el("td", {text: e.f}), el("td", {text: e.key}), el("td", {text: JSON.stringify(e.value) ?? ""}),
       el("td", {text: String(e.time)}))));
}
