// Ring panel: every node on the consistent-hash ring (SVG) and a table of its
// state in words, key count, hints held, clock skew, partition group and writes not yet on disk.
import {el, fill, plural} from "./util.js";

const SIZE = {width: 400, height: 330, radius: 100};

/** "up", "down (crash)": the state in words, never in colour alone. */
export function stateText(node) {
  return node.status === "alive" ? "up" : `down (${node.failure || "stop"})`;
}

/** The partition side of each node name: {"node-0": "A", ...}, empty without a partition. */
export function partitionSides(faults) {
  const sides = {};
  (faults && faults.partition ? faults.partition : []).forEach((group, index) => {
    for (const name of group) sides[name] = String.fromCharCode(65 + index);
  });
  return sides;
}

function position(index, count) {
  const angle = -Math.PI / 2 + (2 * Math.PI * index) / count;
  return {x: SIZE.width / 2 + SIZE.radius * Math.cos(angle),
          y: SIZE.height / 2 + 5 + SIZE.radius * Math.sin(angle)};
}

function roleOf(name, placement) {
  if (!placement) return null;
  const replica = placement.preference_list.indexOf(name);
  if (replica >= 0) return {kind: "replica", label: String(replica + 1)};
  const standIn = placement.fallback_order.indexOf(name);
  if (standIn >= 0) return {kind: "standin", label: `s${standIn + 1}`};
  return null;
}

/** Draw the ring for `nodes` (GET /nodes), `faults` (GET /faults) and an optional placement. */
export function renderRing(nodes, faults, placement) {
  const svg = document.getElementById("ring-svg");
  const sides = partitionSides(faults);
  const center = {x: SIZE.width / 2, y: SIZE.height / 2 + 5};
  const parts = [el("svg:circle", {cx: center.x, cy: center.y, r: SIZE.radius, class: "ring-line"})];
  if (placement) {
    parts.push(el("svg:text", {x: center.x, y: center.y - 4, class: "ring-key", "text-anchor": "middle",
                               text: `key ${placement.key}`}));
    parts.push(el("svg:text", {x: center.x, y: center.y + 14, class: "ring-key-sub", "text-anchor": "middle",
                               text: `hash at ${(placement.key_position_fraction * 100).toFixed(1)}% of the ring`}));
  }
  nodes.forEach((node, index) => {
    const p = position(index, nodes.length);
    const role = roleOf(node.name, placement);
    if (role) {
      parts.push(el("svg:line", {x1: center.x, y1: center.y, x2: p.x, y2: p.y,
                                 class: `ring-link ring-link-${role.kind}`}));
    }
  });
  nodes.forEach((node, index) => {
    const p = position(index, nodes.length);
    const role = roleOf(node.name, placement);
    const state = node.status === "alive" ? "up" : `down-${node.failure || "stop"}`;
    const below = p.y >= center.y - 1;
    const textY = below ? p.y + 38 : p.y - 44;
    const group = el("svg:g", {class: `ring-node ring-${state}${role ? " ring-" + role.kind : ""}`,
                               "data-node": node.name});
    group.append(el("svg:circle", {cx: p.x, cy: p.y, r: 22, class: "ring-dot"}));
    group.append(el("svg:text", {x: p.x, y: p.y + 5, "text-anchor": "middle", class: "ring-id",
                                 text: String(node.node_id)}));
    group.append(el("svg:text", {x: p.x, y: textY, "text-anchor": "middle", class: "ring-label",
                                 text: `${node.name} ${stateText(node)}`}));
    const extra = [plural(node.keys, "key"), node.hints ? plural(node.hints, "hint") : null,
                   node.clock_skew_ms ? `skew ${node.clock_skew_ms > 0 ? "+" : ""}${node.clock_skew_ms} ms` : null,
                   sides[node.name] ? `side ${sides[node.name]}` : null].filter(Boolean).join(" · ");
    group.append(el("svg:text", {x: p.x, y: textY + 15, "text-anchor": "middle", class: "ring-extra",
                                 text: extra}));
    if (role) {
      group.append(el("svg:text", {x: p.x + 20, y: p.y - 16, class: "ring-badge", text: role.label}));
    }
    parts.push(group);
  });
  fill(svg, parts);
  renderNodeTable(nodes, sides);
}

function renderNodeTable(nodes, sides) {
  const body = document.querySelector("#node-table tbody");
  fill(body, nodes.map((node) => el("tr", {id: `node-row-${node.node_id}`, class: node.status === "alive" ? "" : "row-down"},
    el("th", {scope: "row", text: node.name}),
    el("td", {class: "state", "data-state": node.status === "alive" ? "up" : "down", text: stateText(node)}),
    el("td", {class: "keys", text: String(node.keys)}),
    el("td", {class: "hints", text: String(node.hints)}),
    el("td", {class: "skew", text: node.clock_skew_ms ? `${node.clock_skew_ms} ms` : "0"}),
    el("td", {class: "group", text: sides[node.name] || "–"}),
    el("td", {class: "unsynced", text: String(node.uncommitted_writes ?? "–")}))));
}

/** One sentence under the ring about the placement shown. */
export function renderPlacementLine(placement) {
  const line = document.getElementById("placement-line");
  line.textContent = placement
    ? `${placement.key}: preference list ${placement.preference_list.join(", ")} (badges 1…${placement.rf}); ` +
      `stand-ins in order ${placement.fallback_order.join(", ") || "none"} (s1, s2…). Met walking clockwise ` +
      `from the key: ${(placement.points || []).map((p) => `${p.node} after ${plural(p.steps_clockwise, "step")}`).join(", ")}.`
    : "Type a key in the key inspector to light up its preference list.";
}

