// Dispatch panel (lab 7): register drones, create deliveries, assign them with the
// naive read-write claim or with CAS, audit for double bookings, and a CAS by hand.
import {parseValue} from "./controls.js";
import {addFacts, ask, on, peek} from "./panel_util.js";
import {el, fill} from "./util.js";

const BOX = "dispatch-result";
const value = (id) => document.getElementById(id).value.trim();
const point = (id) => value(id).split(",").map((part) => Number(part.trim()));


/** Wire the dispatch forms and buttons. */
export function setupDispatch() {
  on("drone-form", async () => {
    await ask(BOX, "Registering the drone", "POST", "/dispatch/drones",
              {id: value("drone-id"), x: Number(value("drone-x")), y: Number(value("drone-y"))});
  });
  on("delivery-form", async () => {
    await ask(BOX, "Creating the delivery", "POST", "/dispatch/deliveries",
              {id: value("delivery-id"), pickup: point("delivery-pickup"), dropoff: point("delivery-dropoff")});
  });
  on("assign-form", async () => {
    const body = {claim: value("assign-claim")};
    if (value("assign-delivery")) body.delivery = value("assign-delivery");
    if (value("assign-coordinator")) body.coordinator = Number(value("assign-coordinator"));
    const answer = await ask(BOX, `Assigning (${body.claim})`, "POST", "/dispatch/assign", body);
    if (answer) {
      addFacts(BOX, [["assigned", answer.assigned.map((a) => `${a.delivery} → ${a.drone} (${a.claim}, drone now ` +
                                                            `${a.drone_version})`).join("; ") || "none"],
                     ["failed", answer.failed.map((f) => `${f.delivery} ${f.drone || ""}: ${f.error}`)
                                             .join("; ")]]);
    }
  });
  on("dispatch-audit", async () => {
    const answer = await ask(BOX, "The audit", "GET", "/dispatch/audit");
    if (answer) {
      addFacts(BOX, [["audit", answer.ok ? "ok: no drone double-booked" : "NOT ok"],
                     ["double-booked drones", answer.double_booked_drones.map((d) => `${d.drone} held by ` +
                                                                                 d.deliveries.join(" and ")).join("; ") || "none"],
                     ["deliveries assigned twice", answer.deliveries_assigned_twice.map((d) => d.delivery).join(", ") || "none"]]);
    }
  });
  on("dispatch-refresh", refreshDispatch);
  on("cas-form", async () => {
    const expected = value("cas-expected");
    const answer = await ask(BOX, "The compare-and-set", "POST", "/cas",
                             {key: value("cas-key"), expected: expected || null, value: parseValue(value("cas-value"))});
    if (answer) addFacts(BOX, [["outcome", answer.outcome]]);
  });
}

/**
 * Show every drone and delivery with its status. Only on a click: listing them reads the
 * store (events, read repair), which must not happen behind a lab's back.
 */
export async function refreshDispatch() {
  const [drones, deliveries] = await Promise.all([peek("/dispatch/drones"), peek("/dispatch/deliveries")]);
  if (drones) {
    fill(document.getElementById("drone-list"), drones.drones.map((d) => el("li", {class: `drone drone-${d.status}`,
      "data-drone": d.id, text: `${d.id} at (${d.x}, ${d.y}): ${d.status}${d.delivery ? ` for ${d.delivery}` : ""} · v${d.version}`})));
  }
  if (deliveries) {
    fill(document.getElementById("delivery-list"), deliveries.deliveries.map((p) => el("li", {class: "delivery",
      "data-delivery": p.id, text: `${p.id} (${p.pickup} → ${p.dropoff}): ${p.status}${p.drone ? ` by ${p.drone}` : ""}`})));
  }
}
