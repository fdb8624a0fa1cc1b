// Sensors and alerts panel (lab 8): rules, readings, the two alert jobs, the
// notifier's faults (fail rate, delay, dedupe), the breaker's state and transitions,
// the alerts' outbox and how many times each alert was delivered.
import {addFacts, ask, on, peek} from "./panel_util.js";
import {el, fill, plural} from "./util.js";

const BOX = "alerts-result";
const value = (id) => document.getElementById(id).value.trim();


/** "10@1000, 35@2000" (or "22") as readings of `sensor`; `at` omitted means the cluster clock. */
export function parseReadings(sensor, text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [reading, at] = part.split("@").map((x) => x.trim());
    return at === undefined ? {sensor, value: Number(reading)} : {sensor, value: Number(reading), at: Number(at)};
  });
}

async function runJob(job) {
  const answer = await ask(BOX, `Running ${job}`, "POST", `/scheduler/run/${job}`);
  if (answer && answer.result) {
    addFacts(BOX, Object.entries(answer.result).map(([name, v]) => [name, typeof v === "object" ? JSON.stringify(v) : v]));
  }
  refreshNotifier();
}

/** Wire the sensors and alerts forms and buttons. */
export function setupAlerts() {
  on("rule-form", () => {
    const body = {sensor: value("rule-sensor")};
    if (value("rule-op") === "anomaly") body.anomaly = true;
    else body[value("rule-op")] = Number(value("rule-threshold"));
    return ask(BOX, "Adding the rule", "POST", "/alerts/rules", body);
  });
  on("reading-form", async () => {
    const readings = parseReadings(value("reading-sensor"), value("reading-values"));
    const answer = await ask(BOX, "Posting readings", "POST", "/sensors/readings", {readings});
    if (answer && answer.stored) {
      addFacts(BOX, Object.entries(answer.stored).map(([sensor, s]) =>
        [sensor, `added ${s.added}, duplicates ignored ${s.duplicates_ignored}, ${s.total} in the window`]));
    }
  });
  on("run-alert-rules", () => runJob("alert_rules"));
  on("run-alert-outbox", () => runJob("alert_outbox"));
  on("alerts-refresh", refreshAlerts);
  on("notifier-form", async () => {
    const answer = await ask(BOX, "Setting the notifier", "POST", "/alerts/notifier", {
      fail_rate: Number(value("notifier-fail")) || 0, delay_ms: Number(value("notifier-delay")) || 0,
      dedupe: document.getElementById("notifier-dedupe").checked});
    if (answer) showNotifier(answer);
  });
  refreshNotifier();
}

/** The notifier and breaker (they live outside the store: reading them changes nothing). */
export async function refreshNotifier() {
  const answer = await peek("/alerts/notifier");
  if (answer) showNotifier(answer);
}

function showNotifier({notifier, breaker}) {
  const trialIn = breaker.half_open_in_ms ?? breaker.opens_in_ms;  // the newer name says what it counts down to
  const wait = trialIn !== null && trialIn !== undefined ? ` · half-open (a trial call) in ${trialIn} ms` : "";
  const box = document.getElementById("breaker-state");
  box.className = `breaker breaker-${breaker.state}`;
  box.textContent = `Breaker: ${breaker.state} · ${plural(breaker.consecutive_failures, "consecutive failure")} of ` +
    `${breaker.failure_threshold} · calls ${breaker.calls}, rejected ${breaker.rejected}${wait}. Notifier: fail rate ` +
    `${notifier.fail_rate}, delay ${notifier.delay_ms} ms (timeout ${notifier.timeout_ms}), dedupe ` +
    `${notifier.dedupe ? "on" : "off"}, ${plural(notifier.calls, "call")}, ${notifier.failed_calls} failed, ` +
    `${plural(notifier.duplicates_suppressed, "duplicate")} suppressed.`;
  fill(document.getElementById("breaker-transitions"), breaker.transitions.map((t) =>
    el("li", {text: `t=${t.at} ms: ${t.from} → ${t.to} (${t.why})`})));
  const per = Object.entries(notifier.deliveries_per_alert);
  fill(document.getElementById("deliveries-list"), per.length ? per.map(([alert, count]) =>
    el("li", {"data-alert": alert, text: `${alert}: delivered ${count} time${count === 1 ? "" : "s"}`}))
    : [el("li", {class: "muted", text: "nothing delivered yet"})]);
}

/** Rules and alerts with their outbox state (reads the store: on a click only). */
export async function refreshAlerts() {
  const [alerts, rules] = await Promise.all([peek("/alerts"), peek("/alerts/rules")]);
  if (alerts) {
    fill(document.getElementById("alert-list"), alerts.alerts.length ? alerts.alerts.map((a) => el("li", {
      "data-alert": a.id, text: `${a.id}: ${a.text} · outbox ${a.outbox.status}, ${plural(a.outbox.attempts, "attempt")}` +
                                (a.outbox.last_error ? ` (last error: ${a.outbox.last_error})` : "")}))
      : [el("li", {class: "muted", text: "no alert yet"})]);
  }
  if (rules) {
    fill(document.getElementById("rule-list"), rules.rules.map((r) => el("li", {text:
      `${r.id}: ${r.sensor} ${r.anomaly ? "is an anomaly" : r.above !== undefined ? `above ${r.above}` : `below ${r.below}`}`})));
  }
  refreshNotifier();
}
