"use strict";
// Shared by the explore and replay pages: the data, text and number helpers, the layout
// (dagre, or a quick layered layout for big graphs) and drawing into the SVG with pan/zoom.
// User text is only ever set with textContent / setAttribute: no markup is built from it.
window.MG = {};
MG.data = JSON.parse(document.getElementById("graph-data").textContent);
MG.SVG = "http://www.w3.org/2000/svg"; // an XML namespace name, never fetched
MG.CHAR_W = 6.7;   // 11px monospace
MG.LINE_H = 14;

MG.fmt = function (x) {
  if (x === null || x === undefined) return "–";
  if (typeof x === "string") return x;     // "NaN", "Infinity", "-Infinity"
  const a = Math.abs(x);
  if (x === 0) return "0";
  return a < 1e4 && a >= 1e-3 ? x.toFixed(4) : x.toExponential(3);
};

MG.el = function (tag, attrs, text, svg) {
  const e = svg ? document.createElementNS(MG.SVG, tag) : document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
};
MG.svg = (tag, attrs, text) => MG.el(tag, attrs, text, true);

MG.clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

MG.boxSize = function (lines) {
  let w = 0;
  for (const l of lines) w = Math.max(w, l.length);
  return { w: Math.max(40, w * MG.CHAR_W + 14), h: lines.length * MG.LINE_H + 8 };
};

// ---------------------------------------------------------------- layout
// vis: {nodes: [{id, w, h, parent}], clusters: [{id, parent}], edges: [[v, w]]}
// returns {nodes: {id: {x, y, w, h}}, clusters: {id: {x, y, w, h}}, edges: [{v, w, points}],
//          engine}; x, y are centres.
MG.DAGRE_WORK = 4000;    // boxes + dummy nodes dagre would make; beyond this: layered()
MG.DAGRE_DEPTH = 1000;   // dagre recurses along paths: deeper graphs overflow the stack

MG.layout = function (vis, gap) {   // gap: room between columns (edge labels need more)
  gap = gap || 34;
  const ranks = MG.ranks(vis);
  let work = vis.nodes.length, depth = 0;
  const idx = ranks.index;
  for (const [v, w] of vis.edges) work += Math.max(0, ranks.rank[idx[w]] - ranks.rank[idx[v]] - 1);
  for (const r of ranks.rank) depth = Math.max(depth, r);
  if (work <= MG.DAGRE_WORK && depth <= MG.DAGRE_DEPTH) {
    try { return MG.dagreLayout(vis, gap); } catch (e) {   // stack overflow etc.: fall back
      const out = MG.layered(vis, ranks, gap);
      out.engine = "layered (dagre failed: " + String(e && e.message || e).slice(0, 60) + ")";
      return out;
    }
  }
  return MG.layered(vis, ranks, gap);
};

MG.dagreLayout = function (vis, gap) {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 12, ranksep: gap, marginx: 24, marginy: 30 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const c of vis.clusters) g.setNode(c.id, { clusterLabelPos: "top" });
  for (const c of vis.clusters) if (c.parent) g.setParent(c.id, c.parent);
  for (const n of vis.nodes) {
    g.setNode(n.id, { width: n.w, height: n.h });
    if (n.parent) g.setParent(n.id, n.parent);
  }
  for (const [v, w] of vis.edges) g.setEdge(v, w);
  dagre.layout(g);
  const out = { nodes: {}, clusters: {}, edges: [], engine: "dagre" };
  for (const n of vis.nodes) { const p = g.node(n.id); out.nodes[n.id] = { x: p.x, y: p.y, w: n.w, h: n.h }; }
  for (const c of vis.clusters) {
    const p = g.node(c.id);
    out.clusters[c.id] = { x: p.x, y: p.y, w: p.width, h: p.height };
  }
  for (const [v, w] of vis.edges) out.edges.push({ v, w, points: g.edge(v, w).points });
  return out;
};

// Ranks by longest path from the leaves (iterative: any depth), leaves pulled next to
// their first user so parameters do not all pile up in rank 0.
MG.ranks = function (vis) {
  const n = vis.nodes.length, index = {}, preds = [], succs = [];
  vis.nodes.forEach((v, i) => { index[v.id] = i; preds.push([]); succs.push([]); });
  for (const [v, w] of vis.edges) { succs[index[v]].push(index[w]); preds[index[w]].push(index[v]); }
  const waiting = preds.map((p) => p.length), rank = new Array(n).fill(0), order = [];
  const ready = [];
  for (let i = 0; i < n; i++) if (!waiting[i]) ready.push(i);
  while (ready.length) {
    const i = ready.pop();
    order.push(i);
    for (const j of succs[i]) {
      rank[j] = Math.max(rank[j], rank[i] + 1);
      if (--waiting[j] === 0) ready.push(j);
    }
  }
  for (let i = 0; i < n; i++) {
    if (!preds[i].length && succs[i].length) {
      let r = Infinity;
      for (const j of succs[i]) r = Math.min(r, rank[j]);
      rank[i] = r - 1;
    }
  }
  return { index, preds, succs, rank, order };
};

MG.layered = function (vis, ranks, gap) {
  const { preds, succs, rank, order } = ranks;
  const R = Math.max(0, ...rank) + 1, layers = Array.from({ length: R }, () => []);
  const pos = new Float64Array(vis.nodes.length);
  for (const i of order) layers[rank[i]].push(i);
  const place = () => layers.forEach((L) => L.forEach((i, k) => { pos[i] = (k + 0.5) / L.length; }));
  const top = (i) => { let s = vis.nodes[i].parent; let t = s; while (s) { t = s; s = MG._parentOf[s]; } return t || ""; };
  MG._parentOf = {};
  for (const c of vis.clusters) MG._parentOf[c.id] = c.parent;
  place();
  for (let sweep = 0; sweep < 4; sweep++) {      // barycentre sweeps, right then left
    const nbrs = sweep % 2 ? succs : preds;
    for (const L of layers) {
      const key = new Map();
      for (const i of L) {
        const ns = nbrs[i];
        key.set(i, ns.length ? ns.reduce((s, j) => s + pos[j], 0) / ns.length : pos[i]);
      }
      const group = new Map();                      // keep a module's boxes together
      for (const i of L) { const t = top(i); group.set(t, (group.get(t) || []).concat(key.get(i))); }
      const gk = new Map([...group].map(([t, ks]) => [t, ks.reduce((a, b) => a + b, 0) / ks.length]));
      L.sort((a, b) => (gk.get(top(a)) - gk.get(top(b))) || (key.get(a) - key.get(b)));
      L.forEach((i, k) => { pos[i] = (k + 0.5) / L.length; });
    }
  }
  const out = { nodes: {}, clusters: {}, edges: [], engine: "layered" };
  let x = 30;
  for (const L of layers) {
    let w = 0, h = 0;
    for (const i of L) { w = Math.max(w, vis.nodes[i].w); h += vis.nodes[i].h + 10; }
    let y = -h / 2;
    for (const i of L) {
      const n = vis.nodes[i];
      out.nodes[n.id] = { x: x + w / 2, y: y + n.h / 2, w: n.w, h: n.h };
      y += n.h + 10;
    }
    x += w + gap + 6;
  }
  const members = {};  // cluster -> node ids inside it at any depth
  for (const n of vis.nodes) for (let c = n.parent; c; c = MG._parentOf[c]) (members[c] = members[c] || []).push(n.id);
  const depthOf = (c) => { let d = 0; for (let s = MG._parentOf[c]; s; s = MG._parentOf[s]) d++; return d; };
  for (const c of vis.clusters) {
    const ids = members[c.id] || [];
    if (!ids.length) continue;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const id of ids) {
      const p = out.nodes[id];
      x0 = Math.min(x0, p.x - p.w / 2); x1 = Math.max(x1, p.x + p.w / 2);
      y0 = Math.min(y0, p.y - p.h / 2); y1 = Math.max(y1, p.y + p.h / 2);
    }
    const pad = 14 - 2 * Math.min(5, depthOf(c.id));
    out.clusters[c.id] = { x: (x0 + x1) / 2, y: (y0 + y1) / 2 - 4, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad + 8 };
  }
  for (const [v, w] of vis.edges) {
    const a = out.nodes[v], b = out.nodes[w];
    out.edges.push({ v, w, points: [{ x: a.x + a.w / 2, y: a.y }, { x: b.x - b.w / 2, y: b.y }] });
  }
  return out;
};

// ---------------------------------------------------------------- drawing
MG.path = function (pts) {
  if (pts.length === 2) {   // a smooth S from one side to the other
    const [a, b] = pts, dx = Math.max(20, (b.x - a.x) / 2);
    return `M${a.x},${a.y}C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
  }
  let d = `M${pts[0].x},${pts[0].y}`;
  for (let i = 1; i < pts.length - 1; i++) {
    const m = { x: (pts[i].x + pts[i + 1].x) / 2, y: (pts[i].y + pts[i + 1].y) / 2 };
    d += `Q${pts[i].x},${pts[i].y} ${i === pts.length - 2 ? pts[i + 1].x : m.x},${i === pts.length - 2 ? pts[i + 1].y : m.y}`;
  }
  return d;
};

// Draw a node box: <g class="node ..." data-key=...><rect/><text><tspan/>...</text></g>
MG.drawBox = function (parent, p, lines, cls, fill, attrs) {
  const g = MG.svg("g", Object.assign({ class: "node " + (cls || ""),
    transform: `translate(${p.x - p.w / 2},${p.y - p.h / 2})` }, attrs || {}));
  g.appendChild(MG.svg("rect", { width: p.w, height: p.h, rx: 4, fill: fill || "#fff" }));
  const t = MG.svg("text", { y: 4 });
  lines.forEach((l, k) => t.appendChild(MG.svg("tspan", { x: 7, dy: k ? MG.LINE_H : 12 }, l)));
  g.appendChild(t);
  parent.appendChild(g);
  return g;
};

MG.ink = function (fill) {                 // "#rrggbb" -> readable text colour on it
  if (fill.length === 4) fill = "#" + fill[1] + fill[1] + fill[2] + fill[2] + fill[3] + fill[3];
  const r = parseInt(fill.slice(1, 3), 16), g = parseInt(fill.slice(3, 5), 16), b = parseInt(fill.slice(5, 7), 16);
  return 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#111" : "#fff";
};

// Pan (drag) and zoom (wheel) by one transform on #viewport.
MG.view = function (svg, port) {
  const v = { k: 1, x: 0, y: 0, moved: false };
  const apply = () => port.setAttribute("transform", `translate(${v.x},${v.y}) scale(${v.k})`);
  v.fit = function (box) {
    const W = svg.clientWidth || 800, H = svg.clientHeight || 600;
    v.k = Math.min(2, 0.95 * Math.min(W / Math.max(box.w, 1), H / Math.max(box.h, 1)));
    v.x = (W - box.w * v.k) / 2 - box.x0 * v.k;
    v.y = (H - box.h * v.k) / 2 - box.y0 * v.k;
    apply();
  };
  v.center = function (x, y, k) {
    if (k) v.k = k;
    v.x = (svg.clientWidth || 800) / 2 - x * v.k;
    v.y = (svg.clientHeight || 600) / 2 - y * v.k;
    apply();
  };
  v.screen = (x, y) => ({ x: x * v.k + v.x, y: y * v.k + v.y });
  v.shift = (dx, dy) => { v.x += dx; v.y += dy; apply(); };
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    const f = Math.exp(-e.deltaY * 0.0015), k = Math.min(8, Math.max(0.02, v.k * f));
    v.x = mx - (mx - v.x) * (k / v.k); v.y = my - (my - v.y) * (k / v.k); v.k = k;
    apply();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("mousedown", (e) => { drag = { x: e.clientX, y: e.clientY }; v.moved = false; });
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!v.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    v.moved = true; svg.classList.add("dragging");
    v.x += dx; v.y += dy; drag = { x: e.clientX, y: e.clientY }; apply();
  });
  window.addEventListener("mouseup", () => { drag = null; svg.classList.remove("dragging"); });
  return v;
};

MG.bounds = function (lay) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of Object.values(lay.nodes).concat(Object.values(lay.clusters))) {
    x0 = Math.min(x0, p.x - p.w / 2); x1 = Math.max(x1, p.x + p.w / 2);
    y0 = Math.min(y0, p.y - p.h / 2 - 14); y1 = Math.max(y1, p.y + p.h / 2);
  }
  if (x0 === Infinity) return { x0: 0, y0: 0, w: 1, h: 1 };
  return { x0, y0, w: x1 - x0, h: y1 - y0 };
};

// A small histogram as inline SVG bars.
MG.hist = function (s) {
  const box = MG.svg("svg", { class: "hist", width: 160, height: 28 });
  const top = Math.max(1, ...s.hist), bw = 160 / s.hist.length;
  s.hist.forEach((c, k) => {
    const h = c ? Math.max(1, (26 * c) / top) : 0;
    box.appendChild(MG.svg("rect", { x: k * bw + 0.5, y: 28 - h, width: bw - 1, height: h }));
  });
  return box;
};

MG.legend = function (footer) {
  if (!MG.data.has_grad) { footer.textContent = "no gradients yet: call backward() before writing the page to see them"; return; }
  footer.appendChild(MG.el("b", {}, "|grad| colour (tensors: L2 norm): "));
  for (const [c, t] of MG.data.legend) {
    const s = MG.el("span", { class: "legend-item" });
    s.appendChild(MG.el("i", { style: "background:" + c }));
    s.appendChild(document.createTextNode(t));
    footer.appendChild(s);
  }
};
