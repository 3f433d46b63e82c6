/* The console's insight pages: the dashboard's charts (Chart.js, served by the app) and the review inbox's actions. */
(function () {
  "use strict";
  var COLORS = ["#0b5cad", "#d8282f", "#2e8b57", "#f0a500", "#6a5acd", "#20b2aa", "#8b4513", "#708090", "#c71585", "#4682b4"];

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") { return null; }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false, devicePixelRatio: 2,
      plugins: { legend: { labels: { font: { size: 13 } } } } }, config.options || {});
    var made = new Chart(canvas, config);
    canvas.dataset.rendered = "true";
    return made;
  }

  function bar(id, labels, values, label, horizontal) {
    return chart(id, { type: "bar", data: { labels: labels, datasets: [{ label: label, data: values, backgroundColor: COLORS[0] }] },
      options: { indexAxis: horizontal ? "y" : "x", plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }

  function dashboard() {
    var holder = document.getElementById("figures");
    if (!holder) { return; }
    var figures = JSON.parse(holder.textContent), data = figures.data, charts = [];
    var days = data.days.map(function (d) { return d.slice(5); });
    var names = Object.keys(figures.series);
    charts.push(chart("chart-contacts", { type: "bar", data: { labels: days, datasets: names.map(function (name, i) {
      return { label: name, data: figures.series[name], backgroundColor: COLORS[i % COLORS.length] }; }) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } }));
    var kinds = data.turns.order.filter(function (k) { return data.turns.by_outcome[k] > 0; });
    charts.push(chart("chart-outcomes", { type: "doughnut", data: { labels: kinds.map(function (k) { return data.turns.labels[k]; }),
      datasets: [{ data: kinds.map(function (k) { return data.turns.by_outcome[k]; }), backgroundColor: COLORS }] },
      options: { plugins: { legend: { position: "right" } } } }));
    var levels = data.ratings.levels; /* JSON objects come with sorted keys: the order is sent apart */
    charts.push(chart("chart-ratings", { type: "bar", data: { labels: levels, datasets: [{ label: "评价条数",
      data: levels.map(function (l) { return data.ratings.by_level[l]; }),
      backgroundColor: ["#2e8b57", "#6fbf73", "#f0a500", "#e06666", "#b3261e"] }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }));
    charts.push(bar("chart-items", data.top_items.map(function (r) { return r[0]; }), data.top_items.map(function (r) { return r[1]; }), "解答次数", true));
    charts.push(bar("chart-aspects", data.aspects.map(function (r) { return r[0]; }), data.aspects.map(function (r) { return r[1]; }), "解答次数", false));
    var slots = data.bookings.order, rows = data.bookings.by_slot_type;
    charts.push(chart("chart-bookings", { type: "bar", data: { labels: slots.map(function (k) { return data.bookings.slot_types[k]; }),
      datasets: [["booked", "预约", COLORS[0]], ["attended", "到场", COLORS[2]], ["no_show", "爽约", COLORS[1]], ["cancelled", "取消", COLORS[7]]]
        .map(function (d) { return { label: d[1], data: slots.map(function (k) { return rows[k][d[0]]; }), backgroundColor: d[2] }; }) },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }));
    /* charts follow the page's width when printed */
    var appeals = data.appeals.by_category1;
    charts.push(bar("chart-appeals", appeals.map(function (r) { return r[0]; }), appeals.map(function (r) { return r[1]; }), "诉求件数", true));
    window.addEventListener("beforeprint", function () { charts.forEach(function (c) { if (c) { c.resize(); } }); });
    var print = document.getElementById("print");
    if (print) { print.addEventListener("click", function () { window.print(); }); }
  }

  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
                        body: JSON.stringify(body) }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) { throw new Error(j.detail || j.error || j.reason || ("出错了（" + r.status + "）")); } return j; });
    });
  }

  function pinned(form, action, result) {
    /* a pinned answer (人工干预): previewed as the citizen will see it, then published */
    var key = form.dataset.key, preview = form.querySelector(".pin-preview"), publish = form.querySelector('button[value="pin"]');
    var body = { answer: form.elements.answer.value, item_id: form.elements.item_id.value, reason: form.elements.reason.value };
    result.textContent = action === "pin" ? "正在发布新版本…" : "正在生成预览…";
    result.className = "result";
    post("/console/api/admin/insight/inbox/" + key + (action === "pin" ? "/pin" : "/pin/preview"), body).then(function (j) {
      preview.textContent = "问法：" + j.questions.join("；") + "\n群众看到：\n" + j.reply;
      preview.hidden = false;
      if (action === "pin") {
        result.textContent = j.message;
        form.closest("tr").classList.add("done");
        publish.disabled = true;
      } else {
        result.textContent = "请核对预览，确认无误后点“设为人工答复并发布”。";
        publish.disabled = false;
      }
    }).catch(function (e) { result.textContent = e.message; result.className = "result error"; });
  }

  function inbox() {
    document.querySelectorAll("form.group-fix").forEach(function (form) {
      var result = form.querySelector(".result");
      var changed = function () { form.querySelector('button[value="pin"]').disabled = true; }; /* preview again first */
      form.elements.answer.addEventListener("input", changed);
      form.elements.item_id.addEventListener("change", changed);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var action = event.submitter ? event.submitter.value : "question";
        var key = form.dataset.key;
        if (action === "pin" || action === "pin-preview") { pinned(form, action, result); return; }
        result.textContent = action === "dismiss" ? "正在处理…" : "正在发布新版本（约十几秒）…";
        result.className = "result";
        if (action === "event" && !form.elements.event_id.value) {
          result.textContent = "请先选择“一件事”。";
          result.className = "result error";
          return;
        }
        var request = action === "dismiss"
          ? post("/console/api/admin/insight/inbox/" + key + "/dismiss", { reason: form.elements.reason.value || "不属于知识缺口" })
          : action === "event"
          ? post("/console/api/admin/insight/inbox/" + key + "/event", { event_id: form.elements.event_id.value, item_id: form.elements.item_id.value,
                                                                        condition: form.elements.condition.value, reason: form.elements.reason.value })
          : post("/console/api/admin/insight/inbox/" + key + "/publish", { action: action, item_id: form.elements.item_id.value,
                                                                          reason: form.elements.reason.value });
        request.then(function (j) {
          result.textContent = j.message || ("已处理 " + j.dismissed + " 条。");
          form.closest("tr").classList.add("done");
        }).catch(function (e) { result.textContent = e.message; result.className = "result error"; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { dashboard(); inbox(); });
})();
