// Export the space-time diagram as one standalone SVG file: the lanes and every
// drawn shape, with their computed colours written in (the page's CSS does not
// travel with the file).
import {drawing} from "./spacetime.js";
import {el} from "./util.js";

const PROPS = ["fill", "stroke", "stroke-width", "stroke-dasharray", "opacity", "font-size", "font-family",
               "font-weight", "text-anchor"];
const NS = "http://www.w3.org/2000/svg";

function copyStyled(live) {
  const copy = live.cloneNode(true);
  const from = [live, ...live.querySelectorAll("*")], to = [copy, ...copy.querySelectorAll("*")];
  for (let i = 0; i < from.length; i++) {
    const style = getComputedStyle(from[i]);
    for (const prop of PROPS) to[i].setAttribute(prop, style.getPropertyValue(prop));
  }
  return copy;
}

/** The diagram as SVG text: lane names on top, lanes, arrows and marks, styles inlined. */
export function spacetimeSvg() {
  const layers = drawing();
  const height = parseFloat(layers.container.style.height) || 120;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("xmlns", NS);
  svg.setAttribute("width", String(layers.width));
  svg.setAttribute("height", String(height + 20));
  const world = document.createElementNS(NS, "g");
  world.setAttribute("transform", `translate(0 ${20 - layers.base})`);
  world.append(copyStyled(layers.lanes), ...layers.shapes().map(copyStyled));
  svg.append(layers.defs.cloneNode(true), world);
  for (const head of document.querySelectorAll("#msg-lanes .lane-name")) {
    const text = document.createElementNS(NS, "text");
    for (const [name, value] of Object.entries({x: parseFloat(head.style.left), y: 14, "text-anchor": "middle",
                                                "font-size": 12, "font-family": "sans-serif"})) {
      text.setAttribute(name, String(value));
    }
    text.textContent = head.textContent;
    svg.append(text);
  }
  return new XMLSerializer().serializeToString(svg);
}

/** Wire the Export SVG button: download the diagram as replicalab-spacetime.svg. */
export function setupExport() {
  document.getElementById("msg-export-svg").addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([spacetimeSvg()], {type: "image/svg+xml"}));
    const link = el("a", {href: url, download: "replicalab-spacetime.svg"});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
}
