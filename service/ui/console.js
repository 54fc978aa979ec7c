// fgraph web console: the only script of the console's pages (served from /ui/static/,
// the Content-Security-Policy forbids any other). The pages work without it, but for the
// neighbourhood graph of an entity page and the linking of marks to their facts.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // An entity's neighbourhood: the entity in the middle, one hop on the inner ring, two
  // hops on the outer ring, each placed near the neighbour it hangs on.
  function drawGraph(svg) {
    let g;
    try {
      g = JSON.parse(svg.dataset.graph);
    } catch (e) {
      return;
    }
    const cx = 400, cy = 280, rings = [0, 150, 250];
    const pos = {};
    const byHop = [[], [], []];
    g.nodes.forEach((n) => byHop[Math.min(n.hops, 2)].push(n));
    byHop[0].forEach((n) => { pos[n.id] = { x: cx, y: cy, a: 0 }; });
    byHop[1].forEach((n, i) => {
      const a = (2 * Math.PI * i) / Math.max(byHop[1].length, 1);
      pos[n.id] = { x: cx + rings[1] * Math.cos(a), y: cy + rings[1] * Math.sin(a), a: a };
    });
    // Outer ring: sorted by the angle of a neighbour on the inner ring.
    const parentAngle = (n) => {
      for (const e of g.edges) {
        const other = e.s === n.id ? e.t : e.t === n.id ? e.s : null;
        if (other && pos[other] && pos[other].a !== undefined && other !== byHop[0][0].id) return pos[other].a;
      }
      return 0;
    };
    byHop[2].sort((a, b) => parentAngle(a) - parentAngle(b));
    byHop[2].forEach((n, i) => {
      const a = (2 * Math.PI * i) / Math.max(byHop[2].length, 1) + 0.1;
      pos[n.id] = { x: cx + rings[2] * Math.cos(a), y: cy + rings[2] * 0.9 * Math.sin(a), a: a };
    });
    const edges = el("g", { class: "edges" }, svg);
    for (const e of g.edges) {
      const a = pos[e.s], b = pos[e.t];
      if (!a || !b) continue;
      const line = el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "edge" }, edges);
      const title = el("title", {}, line);
      title.textContent = e.type;
    }
    const nodes = el("g", { class: "nodes" }, svg);
    for (const n of g.nodes) {
      const p = pos[n.id];
      const link = el("a", { href: "/ui/entities/" + encodeURIComponent(n.id) }, nodes);
      el("circle", { cx: p.x, cy: p.y, r: n.hops === 0 ? 12 : 8, class: "node hop" + n.hops }, link);
      const label = el("text", { x: p.x + 11, y: p.y + 4, class: "label" }, link);
      const name = n.name || n.id;
      label.textContent = name.length > 28 ? name.slice(0, 27) + "…" : name;
      const title = el("title", {}, link);
      title.textContent = (n.label ? n.label + ": " : "") + name;
    }
  }

  // A document page: a mark and its fact in the list light up together.
  function linkFacts() {
    const items = {};
    document.querySelectorAll("ol.facts li[data-fact-id]").forEach((li) => {
      items[li.dataset.factId] = li;
    });
    let active = [];
    const show = (id, scrollTo) => {
      active.forEach((e) => e.classList.remove("active"));
      active = [];
      document.querySelectorAll("mark[data-fact-id]").forEach((m) => {
        if (m.dataset.factId === id) active.push(m);
      });
      if (items[id]) active.push(items[id]);
      active.forEach((e) => e.classList.add("active"));
      if (scrollTo && scrollTo.scrollIntoView) scrollTo.scrollIntoView({ block: "nearest" });
    };
    document.querySelectorAll("mark[data-fact-id]").forEach((m) => {
      m.addEventListener("mouseenter", () => show(m.dataset.factId, null));
      m.addEventListener("click", () => show(m.dataset.factId, items[m.dataset.factId]));
    });
    Object.values(items).forEach((li) => {
      li.addEventListener("click", () => {
        const first = document.querySelector("mark[data-fact-id]");
        let target = null;
        document.querySelectorAll("mark[data-fact-id]").forEach((m) => {
          if (!target && m.dataset.factId === li.dataset.factId) target = m;
        });
        show(li.dataset.factId, target || first);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const svg = document.getElementById("graph");
    if (svg) drawGraph(svg);
    linkFacts();
  });
})();
