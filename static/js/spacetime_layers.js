// Where the space-time diagram's shapes live in the page: an underlay SVG for the lanes
// and arrow heads, and one small SVG per CHUNK_PX of time, each its own compositing
// layer. A new arrow then repaints only the newest chunk, not thousands of older arrows
// (at 200 events/s painting the whole diagram each frame cost more than the frame).
import {el} from "./util.js";

const CHUNK_PX = 1200;
const svgEl = (tag, attrs, ...children) => el(`svg:${tag}`, attrs, ...children);

/** The diagram's containers: lanes underneath, chunks of shapes on top. */
export class Layers {
  constructor(container, defs) {
    this.container = container;
    this.defs = defs;
    this.chunks = new Map();  // index -> {svg, g}
    this.base = 0;            // the y drawn at the container's top
  }

  /** Empty everything; lanes at the x positions given. */
  reset(width, laneXs) {
    this.width = width;
    this.chunks.clear();
    this.lanes = svgEl("g", {class: "st-lanes"}, ...laneXs.map((x, i) =>
      svgEl("line", {class: i ? "st-lane" : "st-lane st-lane-client", x1: x, x2: x})));
    this.underlay = svgEl("svg", {class: "st-underlay", width: String(width), "aria-hidden": "true"}, this.defs, this.lanes);
    this.container.replaceChildren(this.underlay);
  }

  /** Put a shape whose top is at `y` into its chunk. */
  place(shape, y) {
    const index = Math.floor(y / CHUNK_PX);
    let chunk = this.chunks.get(index);
    if (!chunk) {
      const g = svgEl("g", {transform: `translate(0 ${-index * CHUNK_PX})`});
      chunk = {svg: svgEl("svg", {class: "st-chunk", width: String(this.width), height: String(CHUNK_PX)}, g), g};
      chunk.svg.style.top = `${index * CHUNK_PX - this.base}px`;
      this.chunks.set(index, chunk);
      this.container.append(chunk.svg);
    }
    chunk.g.append(shape);
  }

  /** Size the container for y in [top, bottom]; drop empty chunks; move chunks only when the base moves. */
  layout(top, bottom) {
    for (const [index, chunk] of this.chunks) {
      if (!chunk.g.firstChild) { chunk.svg.remove(); this.chunks.delete(index); }
    }
    const base = Math.max(0, Math.floor(top / CHUNK_PX) * CHUNK_PX);
    if (base !== this.base) {
      this.base = base;
      for (const [index, chunk] of this.chunks) chunk.svg.style.top = `${index * CHUNK_PX - base}px`;
      this.lanes.setAttribute("transform", `translate(0 ${-base})`);
    }
    const height = Math.max(120, bottom - base);
    this.container.style.height = `${height}px`;
    this.underlay.setAttribute("height", String(height));
    for (const line of this.lanes.children) {
      line.setAttribute("y1", String(base));
      line.setAttribute("y2", String(bottom));
    }
  }

  /** Every shape, oldest chunk first (the SVG export walks them). */
  shapes() {
    return [...this.chunks.keys()].sort((a, b) => a - b).flatMap((i) => [...this.chunks.get(i).g.children]);
  }
}
