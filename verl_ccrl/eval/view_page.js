"use strict";
// The viewer page of verl_ccrl.eval.view. Model text is rendered with textContent only, never as markup.
(function () {
  const data = JSON.parse(document.getElementById("view-data").textContent);
  const MARKS = data.marks;
  const WRONG = MARKS.indexOf("wrong");
  const rows = data.rows;
  const problems = data.problems;
  const PAGE = 60;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  // number fields: [start, end, mark, confidence, reason, mean entropy, first token, last token, bin]
  const [START, END, MARK, CONF, REASON, ENTROPY, TOKEN0, TOKEN1, BIN] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(value, digits) {
    return value === null || value === undefined ? "n/a" : Number(value).toFixed(digits);
  }
  function percent(value) {
    return value === null || value === undefined ? "n/a" : (100 * value).toFixed(1) + "%";
  }
  function seedLabel(row) {
    return row.seed === null || row.seed === undefined ? "none" : String(row.seed);
  }

  // ---- summary and legend
  const markCounts = MARKS.map(() => 0);
  for (const row of rows) for (const number of row.numbers) markCounts[number[MARK]] += 1;
  const summary = $("summary");
  summary.append(el("b", "", rows.length + " responses"), " on " + problems.length + " problems; numbers marked: ");
  MARKS.forEach((mark, index) => {
    const count = el("span", "", mark + " " + markCounts[index]);
    count.dataset.markCount = mark;
    count.dataset.count = String(markCounts[index]);
    summary.append(index ? ", " : "", count);
  });
  const skipped = Object.entries(data.skipped).filter(([, count]) => count > 0);
  if (skipped.length) {
    const total = skipped.reduce((sum, [, count]) => sum + count, 0);
    summary.append(". " + total + " unreadable line(s) skipped in " + skipped.map(([path]) => path).join(", "));
  }
  const legend = $("legend");
  legend.append(el("span", "muted", "marks:"));
  MARKS.forEach((mark) => legend.append(el("span", "m-" + mark, mark)));
  legend.append(el("span", "muted", "stronger colour = higher confidence; hover or focus (Tab) a number for its reason"));

  // ---- calibration: one reliability diagram per method, drawn from the bins computed in Python
  const binPanel = $("bin-list");
  function drawCalibration(method, calibration) {
    const box = el("div", "cal");
    box.append(el("h3", "", method));
    const size = 220, pad = 28, plot = size - pad - 8;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", size + 60);
    svg.setAttribute("height", size);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "reliability diagram of " + method);
    const x = (v) => pad + v * plot, y = (v) => 8 + (1 - v) * plot;
    function add(tag, attributes, text) {
      const node = document.createElementNS(SVG, tag);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    }
    add("rect", { x: x(0), y: y(1), width: plot, height: plot, fill: "#fafbfc", stroke: "#c8ced6" });
    const maxCount = Math.max(1, ...calibration.bins.map((b) => b.count));
    calibration.bins.forEach((b) => {
      const k = Math.round(b.low * data.n_bins);
      const bar = add("rect", {
        class: "bin", x: x(b.low) + 1, y: y(b.accuracy), width: Math.max(1, x(b.high) - x(b.low) - 2),
        height: Math.max(1, y(0) - y(b.accuracy)), fill: "#0969da", "fill-opacity": 0.35 + 0.6 * b.count / maxCount,
        tabindex: 0,
      });
      add("title", {}, "confidence " + b.low.toFixed(1) + "-" + b.high.toFixed(1) + ": " + b.count +
        " numbers, " + percent(b.accuracy) + " correct, mean confidence " + fmt(b.mean_confidence, 3));
      bar.append(svg.lastChild);
      bar.dataset.method = method;
      bar.dataset.bin = String(k);
      bar.addEventListener("click", () => showBin(method, k));
      bar.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") showBin(method, k); });
    });
    add("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), stroke: "#cf222e", "stroke-dasharray": "4 3" });
    for (const v of [0, 0.5, 1]) {
      add("text", { x: x(v), y: size - 8, "font-size": 10, "text-anchor": "middle" }, String(v));
      add("text", { x: pad - 4, y: y(v) + 3, "font-size": 10, "text-anchor": "end" }, String(v));
    }
    add("text", { x: x(1) + 6, y: y(0.5), "font-size": 10 }, "share");
    add("text", { x: x(1) + 6, y: y(0.5) + 12, "font-size": 10 }, "correct");
    box.append(svg);
    const s = calibration.summary;
    const rates = data.thresholds.map((t) => percent(s["overconfident_error_rate@" + t])).join(" / ");
    box.append(el("p", "", "overconfident errors: " + rates + " of the wrong numbers have confidence above " +
      data.thresholds.join(" / ")));
    box.append(el("p", "muted", "ECE " + fmt(s.ece, 3) + "; " + s.n_judged + " judged numbers, " + s.n_wrong +
      " wrong; mean confidence right " + fmt(s.mean_confidence_correct, 2) + ", wrong " + fmt(s.mean_confidence_wrong, 2)));
    return box;
  }
  for (const [method, calibration] of Object.entries(data.calibration)) {
    $("calibration").append(drawCalibration(method, calibration));
  }

  // ---- filters
  const state = { bin: null };
  function fill(select, values) {
    for (const value of values) {
      const option = el("option", "", value);
      option.value = value;
      select.append(option);
    }
  }
  const unique = (values) => Array.from(new Set(values)).sort();
  fill($("f-method"), unique(rows.map((row) => row.method)));
  fill($("f-benchmark"), unique(problems.map((problem) => problem[0])));
  fill($("f-seed"), unique(rows.map(seedLabel)));
  fill($("f-source"), unique(rows.map((row) => row.source)));
  const slider = $("f-threshold");
  slider.value = String(Math.max(...data.thresholds));
  const searchText = new Array(rows.length);
  // Problems whose responses disagree: some right, some wrong (over every method and seed).
  const answers = problems.map(() => 0);
  for (const row of rows) answers[row.problem] |= row.correct ? 1 : 2;

  function read() {
    return {
      method: $("f-method").value, benchmark: $("f-benchmark").value, seed: $("f-seed").value,
      source: $("f-source").value, answer: $("f-answer").value, confident: $("f-confident").checked,
      threshold: Number(slider.value), search: $("f-search").value.trim().toLowerCase(), layout: $("f-layout").value,
    };
  }
  function matches(index, f) {
    const row = rows[index];
    if (f.method && row.method !== f.method) return false;
    if (f.benchmark && problems[row.problem][0] !== f.benchmark) return false;
    if (f.seed && seedLabel(row) !== f.seed) return false;
    if (f.source && row.source !== f.source) return false;
    if (f.answer === "disagree") {
      if (answers[row.problem] !== 3) return false;
    } else if (f.answer && row.correct !== (f.answer === "right")) {
      return false;
    }
    if (f.confident && !row.numbers.some((n) => n[MARK] === WRONG && n[CONF] !== null && n[CONF] > f.threshold)) {
      return false;
    }
    if (state.bin && (row.method !== state.bin.method || !row.numbers.some((n) => n[BIN] === state.bin.bin))) {
      return false;
    }
    if (f.search) {
      if (searchText[index] === undefined) {
        searchText[index] = (row.response + "\n" + problems[row.problem][1] + "\n" + row.method).toLowerCase();
      }
      if (!searchText[index].includes(f.search)) return false;
    }
    return true;
  }

  // ---- rendering: a page of PAGE items at a time, the next when the end of the list comes into view
  const list = $("list"), more = $("more");
  let items = [], rendered = 0, layout = "list";

  function markedText(row, rowIndex) {
    const box = el("div", "text");
    const text = row.response;
    let position = 0;
    row.numbers.forEach((number, numberIndex) => {
      if (number[START] < position || number[END] > text.length) return;
      box.append(text.slice(position, number[START]));
      const mark = el("mark", "m-" + MARKS[number[MARK]], text.slice(number[START], number[END]));
      const confidence = number[CONF];
      mark.style.setProperty("--c", confidence === null ? 0.3 : (0.15 + 0.75 * confidence).toFixed(3));
      mark.tabIndex = 0;
      mark.dataset.row = String(rowIndex);
      mark.dataset.number = String(numberIndex);
      box.append(mark);
      position = number[END];
    });
    box.append(text.slice(position));
    return box;
  }
  function card(rowIndex, withProblem) {
    const row = rows[rowIndex];
    const problem = problems[row.problem];
    const node = el("article", "card " + (row.correct ? "right" : "wrong"));
    node.dataset.row = String(rowIndex);
    const head = el("header");
    head.append(el("span", "badge", row.correct ? "right" : "wrong"), el("b", "", row.method));
    if (row.model) head.append(el("span", "", row.model));
    head.append(el("span", "", problem[0]));
    if (row.seed !== null && row.seed !== undefined) head.append(el("span", "", "seed " + row.seed));
    if (row.step !== null && row.step !== undefined) head.append(el("span", "", "record " + row.step));
    head.append(el("span", "", "answer " + (row.answer === null ? "none" : row.answer) + " (truth " + problem[2] + ")"));
    if (row.answer_confidence !== null) head.append(el("span", "", "answer confidence " + fmt(row.answer_confidence, 2)));
    if (row.reward !== null && row.reward !== undefined) head.append(el("span", "", "reward " + fmt(row.reward, 3)));
    head.append(el("span", "", row.where));
    node.append(head);
    if (withProblem) {
      const details = el("details");
      details.append(el("summary", "", "problem"), el("div", "text", problem[1]));
      node.append(details);
    }
    node.append(markedText(row, rowIndex));
    return node;
  }
  function group(problemIndex) {
    const problem = problems[problemIndex];
    const node = el("section", "group");
    node.append(el("h2", "", problem[0] + ": problem " + (problemIndex + 1) + " (truth " + problem[2] + ")"));
    node.append(el("div", "text", problem[1]));
    const columns = el("div", "columns");
    for (const rowIndex of groups.get(problemIndex)) columns.append(card(rowIndex, false));
    node.append(columns);
    return node;
  }
  let groups = new Map();
  function renderMore() {
    const end = Math.min(rendered + PAGE, items.length);
    const fragment = document.createDocumentFragment();
    for (let i = rendered; i < end; i += 1) fragment.append(layout === "list" ? card(items[i], true) : group(items[i]));
    list.append(fragment);
    rendered = end;
    more.hidden = rendered >= items.length;
    if (observer) { observer.unobserve(more); if (!more.hidden) observer.observe(more); }
  }
  const observer = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && rendered < items.length) renderMore();
  }, { rootMargin: "600px" }) : null;
  more.addEventListener("click", renderMore);

  function apply() {
    const f = read();
    $("f-threshold-value").textContent = f.threshold.toFixed(2);
    const shown = [];
    for (let i = 0; i < rows.length; i += 1) if (matches(i, f)) shown.push(i);
    layout = f.layout;
    if (layout === "compare") {
      groups = new Map();
      for (const i of shown) {
        const key = rows[i].problem;
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(i);
      }
      items = Array.from(groups.keys());
    } else {
      items = shown;
    }
    list.replaceChildren();
    rendered = 0;
    const status = $("shown");
    status.dataset.shown = String(shown.length);
    status.textContent = shown.length + " of " + rows.length + " responses shown" +
      (layout === "compare" ? ", on " + items.length + " problems" : "") +
      (state.bin ? " (bin " + state.bin.bin + " of " + state.bin.method + ")" : "");
    renderMore();
  }
  let timer = null;
  $("filters").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 120); });
  $("filters").addEventListener("change", apply);
  $("filters").addEventListener("submit", (event) => event.preventDefault());

  // ---- a reliability bin's numbers
  function showBin(method, bin) {
    state.bin = { method: method, bin: bin };
    binPanel.replaceChildren();
    const close = el("button", "", "clear the bin filter");
    close.type = "button";
    close.addEventListener("click", () => { state.bin = null; binPanel.hidden = true; apply(); });
    const table = el("table");
    const head = el("tr");
    for (const title of ["number", "verdict", "confidence", "reason", "response"]) head.append(el("th", "", title));
    table.append(head);
    let count = 0;
    rows.forEach((row, rowIndex) => {
      if (row.method !== method) return;
      for (const n of row.numbers) {
        if (n[BIN] !== bin) continue;
        count += 1;
        if (count > 500) continue;
        const line = el("tr");
        line.append(el("td", "", row.response.slice(n[START], n[END])), el("td", "", MARKS[n[MARK]]),
          el("td", "", fmt(n[CONF], 3)), el("td", "", n[REASON]), el("td", "", row.where));
        line.dataset.row = String(rowIndex);
        table.append(line);
      }
    });
    const low = bin / data.n_bins, high = (bin + 1) / data.n_bins;
    binPanel.append(el("b", "", method + ": " + count + " numbers with confidence " + low.toFixed(1) + "-" +
      high.toFixed(1) + (count > 500 ? " (first 500 listed)" : "") + "; the list below shows their responses. "), close, table);
    binPanel.hidden = false;
    apply();
  }

  // ---- tooltip: reason, confidence, mean entropy and span of the number under the pointer or the focus
  const tip = $("tip");
  function showTip(mark) {
    const row = rows[Number(mark.dataset.row)];
    const n = row.numbers[Number(mark.dataset.number)];
    const tokens = n[TOKEN0] === null ? "no token span" : "tokens " + n[TOKEN0] + (n[TOKEN1] !== n[TOKEN0] ? "-" + n[TOKEN1] : "");
    tip.textContent = MARKS[n[MARK]] + ": " + n[REASON] + "\nconfidence " + fmt(n[CONF], 3) + ", mean entropy " +
      (n[ENTROPY] === null ? "n/a" : fmt(n[ENTROPY], 3) + " nats") + "\n" + tokens + ", characters " + n[START] + "-" + n[END];
    const box = mark.getBoundingClientRect();
    tip.hidden = false;
    tip.style.left = Math.max(4, Math.min(window.scrollX + box.left, window.scrollX + window.innerWidth - tip.offsetWidth - 8)) + "px";
    tip.style.top = window.scrollY + box.bottom + 6 + "px";
    mark.setAttribute("aria-describedby", "tip");
  }
  function hideTip(event) {
    if (event.target.tagName === "MARK") { tip.hidden = true; event.target.removeAttribute("aria-describedby"); }
  }
  list.addEventListener("mouseover", (event) => { if (event.target.tagName === "MARK") showTip(event.target); });
  list.addEventListener("focusin", (event) => { if (event.target.tagName === "MARK") showTip(event.target); });
  list.addEventListener("mouseout", hideTip);
  list.addEventListener("focusout", hideTip);

  apply();
  document.body.dataset.readyMs = performance.now().toFixed(0);
  document.body.dataset.ready = "1";
})();
