// Export the space-time diagram as a standalone SVG file: the drawn elements with
// their computed colours written in (the page's CSS does not travel with the file).
import {el} from "./util.js";

const PROPS = ["fill", "stroke", "stroke-width", "stroke-dasharray", "opacity", "font-size", "font-family",
               "font-weight", "visibility"];

/** The diagram as SVG text, styles inlined, lane names on top. */
export function spacetimeSvg() {
  const live = document.getElementById("spacetime");
  const copy = live.cloneNode(true);
  const from = live.querySelectorAll("*"), to = copy.querySelectorAll("*");
  for (let i = 0; i < from.length; i++) {
    const style = getComputedStyle(from[i]);
    for (const prop of PROPS) to[i].setAttribute(prop, style.getPropertyValue(prop));
  }
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.removeAttribute("id");
  const top = Number(live.querySelector("#st-world").dataset.top || 0);
  for (const head of document.querySelectorAll("#msg-lanes .lane-name")) {
    const text = document.createElementNS("http://www.w3.org/2000/svg", "text");
    text.setAttribute("x", parseFloat(head.style.left));
    text.setAttribute("y", String(top + 12));
    text.setAttribute("text-anchor", "middle");
    text.setAttribute("font-size", "12");
    text.setAttribute("font-family", "sans-serif");
    text.textContent = head.textContent;
    copy.querySelector("#st-world").append(text);
  }
  return new XMLSerializer().serializeToString(copy);
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
