"use strict";
// The replay: the graph once, then frame `cur` of the walk shown on it: finished nodes
// faded with their gradient, the current one in orange with the gradients it hands back on
// its input edges, nodes still waiting for users dashed with their partial sums.
(function () {
  const D = MG.data, nodes = D.nodes, frames = D.frames, F = frames.length;
  const label = (i) => (nodes[i].name || nodes[i].op || "leaf").split("\n")[0];
  const show = (s) => (s === null || s === undefined ? "?" : typeof s === "object"
    ? "‖" + MG.fmt(s.norm) + "‖" : MG.fmt(s));
  const shape = (n) => "(" + n.shape.join(", ") + (n.shape.length === 1 ? ",)" : ")") + " " + n.dtype;
  const finishedAt = new Array(nodes.length).fill(Infinity);
  frames.forEach((f, k) => { finishedAt[f.node] = k; });

  const svg = document.getElementById("canvas"), port = document.getElementById("viewport");
  const gE = document.getElementById("edges"), gN = document.getElementById("nodes");
  const view = MG.view(svg, port);
  const lines = (i, grad) => {
    const n = nodes[i], out = [MG.clip(label(i), 30) + "  #" + i];
    if (n.name && n.op) out.push(MG.clip(n.op, 30));
    if (n.kind === "value") out.push("data " + MG.fmt(n.data), "grad " + grad);
    else out.push(MG.clip(shape(n), 30), "grad " + grad);
    return out;
  };
  const vis = { nodes: nodes.map((n, i) => Object.assign({ id: "n" + i, parent: null }, MG.boxSize(lines(i, "‖0.0000e+00‖ so far")))),
    clusters: [], edges: [] };
  const seen = new Set();
  for (const [p, c] of D.edges) { const k = p + "," + c; if (!seen.has(k)) { seen.add(k); vis.edges.push(["n" + p, "n" + c]); } }
  const lay = MG.layout(vis, 170);
  const edgeEl = {};
  for (const e of lay.edges) {
    const path = MG.svg("path", { class: "edge", d: MG.path(e.points), "marker-end": "url(#arrow)" });
    gE.appendChild(path);
    edgeEl[e.v + ">" + e.w] = { path, points: e.points };
  }
  const labels = MG.svg("g", { id: "edge-labels" });
  port.appendChild(labels);

  // The list of frames: the <li data-frame="i"> elements are in the page; fill their text.
  const items = [...document.querySelectorAll("#frames li[data-frame]")];
  items.forEach((li, k) => {
    li.textContent = `${k + 1}. ${label(frames[k].node)} #${frames[k].node}: grad ${show(frames[k].grad)}`;
    li.addEventListener("click", () => go(k));
  });
  const stepText = document.getElementById("step-text"), counter = document.getElementById("counter");
  let cur = 0, timer = null;

  function go(k) {
    cur = Math.max(0, Math.min(F - 1, k));
    const partial = {};             // node -> [share, ...] handed over so far, not finished
    for (let j = 0; j <= cur; j++) {
      delete partial[frames[j].node];
      for (const e of frames[j].edges) if (finishedAt[e.to] > cur) (partial[e.to] = partial[e.to] || []).push(e.total);
    }
    gN.textContent = ""; labels.textContent = "";
    nodes.forEach((n, i) => {
      const done = finishedAt[i] <= cur, now = finishedAt[i] === cur, wait = i in partial;
      const grad = done ? show(frames[finishedAt[i]].grad) : wait ? show(partial[i][partial[i].length - 1]) + " so far" : "?";
      const p = lay.nodes["n" + i], cls = now ? "current" : done ? "done" : wait ? "waiting" : "";
      const fill = done ? frames[finishedAt[i]].fill : "#ffffff";
      const g = MG.drawBox(gN, p, lines(i, grad), cls, fill, { "data-id": i });
      g.querySelector("text").setAttribute("fill", MG.ink(fill));
    });
    for (const el of Object.values(edgeEl)) el.path.setAttribute("class", "edge");
    const f = frames[cur];
    for (const e of f.edges) {
      const el = edgeEl["n" + e.to + ">n" + f.node];
      if (!el) continue;
      el.path.setAttribute("class", "edge hot");
      const m = el.points[Math.floor(el.points.length / 2)], a = el.points[0];
      const x = el.points.length === 2 ? (a.x + m.x) / 2 : m.x, y = el.points.length === 2 ? (a.y + m.y) / 2 : m.y;
      const text = ("local" in e ? show(e.up) + "×" + MG.fmt(e.local) + "=" : "") + show(e.out) + (e.acc === "+=" ? " (+=)" : "");
      labels.appendChild(MG.svg("text", { class: "edge-label", x, y: y - 4, "text-anchor": "middle" }, text));
    }
    stepText.textContent = f.text;
    items.forEach((li, j) => { li.className = j === cur ? "current" : j > cur ? "future" : ""; });
    if (items[cur]) items[cur].scrollIntoView({ block: "nearest" });
    counter.textContent = `frame ${cur + 1} / ${F}`;
    const at = lay.nodes["n" + f.node], box = svg.getBoundingClientRect(), q = view.screen(at.x, at.y);
    if (q.x < 40 || q.y < 40 || q.x > box.width - 40 || q.y > box.height - 40) view.center(at.x, at.y);
    document.body.dataset.current = String(cur);  // not data-frame: that marks the frames
  }

  function play() {
    if (timer) { clearInterval(timer); timer = null; playBtn.textContent = "▶ play"; return; }
    if (cur >= F - 1) go(0);
    playBtn.textContent = "❚❚ pause";
    timer = setInterval(() => { if (cur >= F - 1) play(); else go(cur + 1); }, 900);
  }
  const playBtn = document.getElementById("play");
  playBtn.addEventListener("click", play);
  document.getElementById("step").addEventListener("click", () => go(cur + 1));
  document.getElementById("back").addEventListener("click", () => go(cur - 1));
  window.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight") go(cur + 1);
    else if (e.key === "ArrowLeft") go(cur - 1);
    else if (e.key === " ") { e.preventDefault(); play(); }
  });
  document.getElementById("summary").textContent = `${nodes.length} nodes · ${F} steps · layout ${lay.engine}`;
  view.fit(MG.bounds(lay));             // the whole graph, or readable text around the output
  if (view.k < 0.5) view.center(lay.nodes.n0.x - 200, lay.nodes.n0.y, 0.9);
  if (F) go(0);
  MG.replay = { go, frame: () => cur, count: F };
  requestAnimationFrame(() => requestAnimationFrame(() => {
    MG.firstPaint = performance.now();
    document.body.dataset.ready = "1";
  }));
})();
