"use strict";
// The explorer: which boxes are visible (modules collapse, repeated blocks fold), drawing
// them, the details on hover and click, and search. State lives in `collapsed` (scope
// indices drawn as one box) and `openFolds` (runs of repeated blocks shown one by one).
(function () {
  const D = MG.data, nodes = D.nodes, scopes = D.scopes, folds = D.folds;
  const chain = [];                          // scope -> [outermost, ..., itself]
  scopes.forEach((s, k) => chain.push((s.parent >= 0 ? chain[s.parent] : []).concat([k])));
  const nodeChain = (i) => (nodes[i].scope >= 0 ? chain[nodes[i].scope] : []);
  const foldOf = {};
  folds.forEach((run, f) => run.forEach((k) => { foldOf[k] = f; }));
  const collapsed = new Set(), openFolds = new Set();
  const inputs = nodes.map(() => 0), users = nodes.map(() => 0);
  for (const [p, c] of D.edges) { users[p]++; inputs[c]++; }
  const size = scopes.map(() => 0);
  nodes.forEach((n, i) => nodeChain(i).forEach((k) => size[k]++));

  // What stands for node i on screen: itself, a collapsed module's box, or a fold's box.
  function rep(i) {
    for (const k of nodeChain(i)) {
      if (k in foldOf && !openFolds.has(foldOf[k])) return "f" + foldOf[k];
      if (collapsed.has(k)) return "s" + k;
    }
    return "n" + i;
  }
  const clusterOf = (k) => (k >= 0 ? "c" + k : null);

  function visible() {
    const seen = new Map(), clusters = new Map(), edges = new Set(), list = [];
    const addClusters = (k) => { for (let s = k; s >= 0 && !clusters.has("c" + s); s = scopes[s].parent) clusters.set("c" + s, { id: "c" + s, parent: clusterOf(scopes[s].parent) }); };
    nodes.forEach((n, i) => {
      const r = rep(i);
      if (seen.has(r)) return;
      let parent, lines, extra;
      if (r[0] === "n") { parent = n.scope; lines = nodeLines(n); extra = { i }; }
      else if (r[0] === "s") { const k = +r.slice(1); parent = scopes[k].parent; lines = boxLines(k); extra = { k }; }
      else { const f = +r.slice(1); parent = scopes[folds[f][0]].parent; lines = foldLines(f); extra = { f }; }
      addClusters(parent);
      const sz = MG.boxSize(lines);
      const item = Object.assign({ id: r, w: sz.w, h: sz.h, parent: clusterOf(parent), lines }, extra);
      seen.set(r, item); list.push(item);
    });
    for (const [p, c] of D.edges) {
      const a = rep(p), b = rep(c);
      if (a !== b) edges.add(a + "\u0000" + b);
    }
    return { nodes: list, clusters: [...clusters.values()], edges: [...edges].map((e) => e.split("\u0000")) };
  }

  function nodeLines(n) {
    const lines = [];
    if (n.name) lines.push(MG.clip(n.name.replace(/\n/g, " "), 34));
    if (n.op) lines.push(MG.clip(n.op, 34));
    if (n.kind === "value") lines.push("data " + MG.fmt(n.data), "grad " + MG.fmt(n.grad));
    else {
      lines.push(MG.clip("(" + n.shape.join(", ") + (n.shape.length === 1 ? ",)" : ")") + " " + n.dtype, 34));
      if (n.grad) lines.push("|grad| " + MG.fmt(n.grad.norm));
    }
    return lines;
  }
  const shapeText = (n) => "(" + n.shape.join(", ") + (n.shape.length === 1 ? ",)" : ")");
  function boxLines(k) { return ["▸ " + MG.clip(scopes[k].name, 40), scopes[k].kind + " · " + size[k] + " nodes"]; }
  function foldLines(f) {
    const run = folds[f], a = scopes[run[0]], b = scopes[run[run.length - 1]];
    return ["▸ " + a.kind + " × " + run.length, MG.clip(a.name + " … " + b.name.split(".").pop(), 40), "identical blocks: click to open"];
  }

  // ---------------------------------------------------------------- drawing
  const svg = document.getElementById("canvas"), port = document.getElementById("viewport");
  const gC = document.getElementById("clusters"), gE = document.getElementById("edges"), gN = document.getElementById("nodes");
  const view = MG.view(svg, port);
  let lay = null, vis = null;

  function render(anchor) {
    const t0 = performance.now();
    vis = visible();
    lay = MG.layout(vis);
    gC.textContent = ""; gE.textContent = ""; gN.textContent = "";
    const ordered = vis.clusters.slice().sort((a, b) => chain[+a.id.slice(1)].length - chain[+b.id.slice(1)].length);
    for (const c of ordered) {
      const p = lay.clusters[c.id], k = +c.id.slice(1);
      if (!p) continue;
      const g = MG.svg("g", { class: "cluster", "data-scope": k });
      g.appendChild(MG.svg("rect", { x: p.x - p.w / 2, y: p.y - p.h / 2, width: p.w, height: p.h, rx: 6 }));
      g.appendChild(MG.svg("text", { x: p.x - p.w / 2 + 4, y: p.y - p.h / 2 - 4 }, "▾ " + scopes[k].name + " (" + scopes[k].kind + ")"));
      gC.appendChild(g);
    }
    for (const e of lay.edges) gE.appendChild(MG.svg("path", { class: "edge", d: MG.path(e.points), "marker-end": "url(#arrow)" }));
    for (const v of vis.nodes) {
      const p = lay.nodes[v.id];
      if (v.i !== undefined) {
        const n = nodes[v.i], fill = n.fill;
        const g = MG.drawBox(gN, p, v.lines, n.kind === "param" ? "param" : "", fill, { "data-id": v.i });
        g.querySelector("text").setAttribute("fill", MG.ink(fill));
      } else if (v.k !== undefined) MG.drawBox(gN, p, v.lines, "box", null, { "data-scope": v.k });
      else MG.drawBox(gN, p, v.lines, "fold", null, { "data-fold": v.f });
    }
    document.getElementById("summary").textContent =
      `${nodes.length} nodes · ${vis.nodes.length} boxes shown · layout ${lay.engine} ${Math.round(performance.now() - t0)} ms`;
    const opened = anchor && anchor.open !== undefined && lay.clusters["c" + anchor.open];
    if (opened) {                      // an opened module: show all of it, zooming out if needed
      const W = svg.clientWidth || 800, H = svg.clientHeight || 600;
      const k = Math.min(view.k, 0.9 * W / opened.w, 0.9 * H / opened.h);
      view.center(opened.x, opened.y, Math.max(k, 0.05));
    } else if (anchor) {               // keep what was clicked where it was on screen
      const el = anchor.find();
      if (el) { const q = el.getBoundingClientRect(); view.shift(anchor.x - q.left, anchor.y - q.top); }
    } else {                           // fit; a huge graph starts readable at its output
      view.fit(MG.bounds(lay));
      const out = lay.nodes[rep(0)];
      if (view.k < 0.12 && out) view.center(out.x - 300, out.y, 0.8);
    }
  }

  // ---------------------------------------------------------------- details
  function info(target) {
    const box = MG.el("div", { class: "info" }), rows = MG.el("table");
    const row = (k, v, extra) => {
      const tr = MG.el("tr"); tr.appendChild(MG.el("td", {}, k));
      const td = MG.el("td", {}, v); if (extra) td.appendChild(extra); tr.appendChild(td); rows.appendChild(tr);
    };
    const statRows = (label, s) => {
      if (s === null || s === undefined) { row(label, "none kept (mg.viz.retain_grads(root) before backward keeps it)"); return; }
      if (typeof s !== "object") { row(label, MG.fmt(s)); return; }
      const text = s.min === undefined ? "no finite entries" :
        `min ${MG.fmt(s.min)}  max ${MG.fmt(s.max)}\nmean ${MG.fmt(s.mean)}  norm ${MG.fmt(s.norm)}` +
        (s.nonfinite ? `\n${s.nonfinite} NaN/Inf entries` : "");
      row(label, text, s.hist && s.size > 1 ? MG.hist(s) : null);
    };
    if (target.i !== undefined) {
      const n = nodes[target.i];
      box.appendChild(MG.el("h3", {}, n.name || n.op || "leaf"));
      row("op", n.op || (inputs[target.i] ? "" : "leaf (an input or a parameter)"));
      row("kind", n.kind === "param" ? "parameter" : n.kind);
      if (n.kind !== "value") { row("shape", shapeText(n)); row("dtype", n.dtype); }
      row("module", n.scope >= 0 ? scopes[n.scope].name + " (" + scopes[n.scope].kind + ")" : "(none)");
      row("edges", `${inputs[target.i]} in, ${users[target.i]} out`);
      statRows("value", n.data);
      statRows("gradient", n.grad);
    } else if (target.k !== undefined) {
      const s = scopes[target.k];
      box.appendChild(MG.el("h3", {}, s.name));
      row("module", s.kind); row("nodes", String(size[target.k])); row("", "click to expand");
    } else {
      const run = folds[target.f];
      box.appendChild(MG.el("h3", {}, scopes[run[0]].kind + " × " + run.length));
      row("blocks", run.map((k) => scopes[k].name).join("\n")); row("", "same class, same ops and shapes inside; click to open");
    }
    box.appendChild(rows);
    return box;
  }
  const tip = document.getElementById("tip"), panel = document.getElementById("panel");
  function targetOf(el) {
    const g = el.closest && el.closest(".node");
    if (!g) return null;
    if (g.dataset.id !== undefined) return { i: +g.dataset.id, g };
    if (g.dataset.scope !== undefined) return { k: +g.dataset.scope, g };
    return { f: +g.dataset.fold, g };
  }
  svg.addEventListener("mouseover", (e) => {
    const t = targetOf(e.target);
    if (!t) return;
    tip.textContent = ""; tip.appendChild(info(t)); tip.hidden = false;
    tip.style.left = Math.min(e.clientX + 14, window.innerWidth - 370) + "px";
    tip.style.top = Math.min(e.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + "px";
  });
  svg.addEventListener("mouseout", (e) => { if (targetOf(e.target)) tip.hidden = true; });

  function anchorFor(selector) {
    return (el) => { const q = el.getBoundingClientRect(); return { x: q.left, y: q.top, find: () => document.querySelector(selector) }; };
  }
  svg.addEventListener("click", (e) => {
    if (view.moved) return;                 // the end of a drag, not a click
    const t = targetOf(e.target);
    if (t && t.i !== undefined) { panel.textContent = ""; panel.appendChild(info(t)); return; }
    if (t && t.k !== undefined) {           // a collapsed module: open it
      collapsed.delete(t.k); tip.hidden = true;
      render({ open: t.k }); return;
    }
    if (t) {                                // a fold: show its blocks one by one
      openFolds.add(t.f); tip.hidden = true;
      const parent = scopes[folds[t.f][0]].parent;
      render(parent >= 0 ? { open: parent } : null); return;
    }
    const c = e.target.closest && e.target.closest(".cluster");
    if (c) {                                // an open module's frame: collapse it
      const k = +c.dataset.scope;
      collapsed.add(k);
      render(anchorFor(`.node[data-scope="${k}"]`)(c.querySelector("rect")));
    }
  });

  // ---------------------------------------------------------------- search
  const search = document.getElementById("search"), found = document.getElementById("found");
  let hits = [], at = -1;
  const haystack = nodes.map((n) => [n.name, n.op, n.scope >= 0 ? scopes[n.scope].name : ""].join("\n").toLowerCase());
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    hits = q ? haystack.flatMap((h, i) => (h.includes(q) ? [i] : [])) : [];
    at = -1;
    found.textContent = q ? `${hits.length} found` + (hits.length ? " (Enter: next)" : "") : "";
  });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !hits.length) return;
    at = (at + 1) % hits.length;
    show(hits[at]);
    found.textContent = `${at + 1} of ${hits.length}`;
  });
  function show(i) {
    let changed = false;
    for (const k of nodeChain(i)) {
      if (collapsed.delete(k)) changed = true;
      if (k in foldOf && !openFolds.has(foldOf[k])) { openFolds.add(foldOf[k]); changed = true; }
    }
    if (changed) render();
    for (const g of gN.querySelectorAll(".hit")) g.classList.remove("hit");
    const g = gN.querySelector(`.node[data-id="${i}"]`);
    g.classList.add("hit");
    const p = lay.nodes["n" + i];
    view.center(p.x, p.y, Math.max(view.k, 1));
    panel.textContent = ""; panel.appendChild(info({ i }));
  }

  // ---------------------------------------------------------------- start
  document.getElementById("fit").addEventListener("click", () => view.fit(MG.bounds(lay)));
  document.getElementById("expand-all").addEventListener("click", () => {
    collapsed.clear(); folds.forEach((_, f) => openFolds.add(f)); render();
  });
  document.getElementById("collapse-all").addEventListener("click", () => {
    scopes.forEach((s, k) => { if (s.parent < 0) collapsed.add(k); }); render();
  });
  // A big graph opens with its modules collapsed, deepest first, until it is small enough.
  const maxDepth = Math.max(0, ...chain.map((c) => c.length));
  for (let d = maxDepth; d >= 1 && nodes.length > D.open_nodes; d--) {
    const count = new Set(nodes.map((_, i) => rep(i))).size;
    if (count <= D.open_nodes) break;
    scopes.forEach((s, k) => { if (chain[k].length === d) collapsed.add(k); });
  }
  MG.legend(document.getElementById("legend"));
  document.title = document.title || D.title;
  render();
  requestAnimationFrame(() => requestAnimationFrame(() => {
    MG.firstPaint = performance.now();      // ms since the page started loading
    document.body.dataset.ready = "1";
  }));
  MG.visibleCount = () => gN.querySelectorAll(".node").length;
  MG.state = { collapsed, openFolds, rep };
})();
