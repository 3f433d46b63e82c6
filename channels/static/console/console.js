/* The operator console: live lists, a conversation (take over, reply, hand back, close, reveal), and
   forms that post to the JSON API with the session's CSRF token. Text is always inserted as text. */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = meta ? meta.getAttribute("content") : "";
  var WHO = { citizen: "群众", bot: "智能客服", operator: "人工客服", system: "系统通知" };

  function errorText(data, status) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && data.error) return data.error + (data.reasons ? "：" + data.reasons.join("；") : "");
    return "操作失败（" + status + "），请稍后重试。";
  }

  function api(method, url, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") options.headers["X-CSRF-Token"] = CSRF;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      if (response.status === 401) {
        window.location.href = "/console/login?next=" + encodeURIComponent(window.location.pathname);
        throw new Error("登录已失效，请重新登录。");
      }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(errorText(data, response.status));
          error.status = response.status;
          error.data = data;
          throw error;
        }
        return data;
      });
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function clock(iso) {
    if (!iso) return "";
    try {
      return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false, month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    } catch (e) { return iso; }
  }

  function show(node, visible) { if (node) node.hidden = !visible; }

  function showError(node, message) {
    if (!node) return;
    node.textContent = message || "";
    node.hidden = !message;
  }

  function formBody(form) {
    var body = {};
    new FormData(form).forEach(function (value, key) { body[key] = value; });
    return body;
  }

  /* ---- forms that post to the API ----------------------------------------------------------- */
  var forms = document.querySelectorAll("form[data-api]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var result = form.querySelector("[data-result]") || (form.parentNode && form.parentNode.querySelector("[data-result]"));
      api("POST", form.getAttribute("data-api"), formBody(form)).then(function () {
        if (result) { result.classList.remove("error"); result.textContent = "已保存。"; }
        window.setTimeout(function () { window.location.reload(); }, 300);
      }).catch(function (error) {
        if (result) { result.classList.add("error"); result.textContent = error.message; }
      });
    });
  });

  /* ---- a work order: reveal the contact (audited) ------------------------------------------- */
  var order = document.getElementById("work-order");
  var revealOrder = document.querySelector("form[data-reveal-order]");
  if (order && revealOrder) {
    revealOrder.addEventListener("submit", function (event) {
      event.preventDefault();
      var number = order.getAttribute("data-number");
      api("POST", "/console/api/work-orders/" + number + "/reveal", formBody(revealOrder)).then(function () {
        return api("GET", "/console/api/work-orders/" + number + "?reveal=true");
      }).then(function (data) {
        document.getElementById("order-contact-name").textContent = data.contact_name || "—";
        document.getElementById("order-contact-phone").textContent = data.contact_phone || "未留";
        document.getElementById("order-description").textContent = data.description;
        revealOrder.hidden = true;
      }).catch(function (error) { window.alert(error.message); });
    });
  }

  /* ---- an appeal (诉求工单): the hotline's dispatch, 督办 and extension decision; the department's sign, answer,
     extension request and return. Each form or button posts to /console/api/appeals/{number}/{action}. ---------- */
  var appeal = document.getElementById("appeal");
  if (appeal) {
    var appealBase = "/console/api/appeals/" + encodeURIComponent(appeal.getAttribute("data-number")) + "/";
    var FIELDS = { days: "延期天数", reason: "理由", text: "答复内容", note: "说明", category1: "一级分类", category2: "二级分类",
                   department: "承办部门", approve: "审核意见" };
    var appealError = function (error) {
      var reasons = error.data && error.data.reasons;
      if (reasons && reasons.length) {  // a request the API's schema refused: name the fields in Chinese
        var names = reasons.map(function (r) { var field = r.split(":")[0]; return FIELDS[field] || field; });
        return "请检查填写的内容：" + names.join("、") + "。";
      }
      return error.message;
    };
    var resultOf = function (node) {
      return node.querySelector("[data-result]") || (node.parentNode && node.parentNode.querySelector("[data-result]"));
    };
    var say = function (result, message, failed) {
      if (!result) { if (failed) window.alert(message); return; }
      result.classList.toggle("error", !!failed);
      result.setAttribute("role", failed ? "alert" : "status");
      result.textContent = message;
    };
    var send = function (action, body, result, controls) {
      controls.forEach(function (c) { c.disabled = true; });
      say(result, "正在提交…", false);
      return api("POST", appealBase + action, body).then(function (data) {
        var done = "已提交。";
        if (action === "reply") done = data.delivered ? "答复已提交，已发送给群众。" : "答复已提交；群众暂时没有收到，系统会继续发送。";
        else if (action === "dispatch") done = "已派单给" + data.department + "。";
        say(result, done, false);
        window.setTimeout(function () { window.location.reload(); }, 600);
      }).catch(function (error) {
        controls.forEach(function (c) { c.disabled = false; });
        say(result, appealError(error), true);
      });
    };

    Array.prototype.forEach.call(document.querySelectorAll("form[data-appeal-action]"), function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var action = form.getAttribute("data-appeal-action");
        var body = formBody(form);
        var result = resultOf(form);
        if (action === "extension") {
          var days = Number(body.days);
          if (!/^\d+$/.test(String(body.days).trim()) || days < 1 || days > 30) {
            say(result, "延期天数请填写1到30之间的整数（工作日）。", true);
            return;
          }
          body.days = days;
        }
        send(action, body, result, Array.prototype.slice.call(form.querySelectorAll("button")));
      });
    });

    Array.prototype.forEach.call(document.querySelectorAll("button[data-appeal-post]"), function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-appeal-post");
        var body = {};
        if (action === "extension/decision") body = { approve: button.getAttribute("data-approve") === "true" };
        if (action === "dispatch") {
          body = { category1: button.getAttribute("data-category1"), category2: button.getAttribute("data-category2"),
                   department: button.getAttribute("data-department"), note: "（按建议派单）" };
        }
        var group = Array.prototype.slice.call(button.parentNode.querySelectorAll("button"));
        send(action, body, resultOf(button.parentNode), group);
      });
    });

    /* the dispatch form: second-level classes of the chosen first-level class; the department follows the class */
    var dispatchForm = document.getElementById("dispatch-form");
    if (dispatchForm) {
      var routes = JSON.parse(dispatchForm.getAttribute("data-routes") || "{}");
      var first = document.getElementById("category1");
      var second = document.getElementById("category2");
      var department = document.getElementById("department");
      var narrow = function () {
        var keep = null;
        Array.prototype.forEach.call(second.options, function (option) {
          var fits = option.getAttribute("data-first") === first.value;
          option.hidden = option.disabled = !fits;
          if (fits && (keep === null || option.selected)) keep = option;
        });
        if (keep) keep.selected = true;
      };
      var follow = function () {
        var code = routes[first.value + "/" + second.value];
        if (code) department.value = code;
      };
      first.addEventListener("change", function () { narrow(); follow(); });
      second.addEventListener("change", follow);
      narrow();
      Array.prototype.forEach.call(document.querySelectorAll("button[data-fill]"), function (button) {
        button.addEventListener("click", function () {
          first.value = button.getAttribute("data-category1");
          narrow();
          second.value = button.getAttribute("data-category2");
          department.value = button.getAttribute("data-department");
          dispatchForm.scrollIntoView({ block: "nearest" });
        });
      });
    }
  }

  /* ---- the workbench: live lists ------------------------------------------------------------- */
  var bench = document.getElementById("workbench");
  if (bench) {
    var benchError = document.getElementById("workbench-error");

    var take = function (conversationId) {
      api("POST", "/console/api/conversations/" + encodeURIComponent(conversationId) + "/take").then(function () {
        window.location.href = "/console/conversations/" + encodeURIComponent(conversationId);
      }).catch(function (error) { showError(benchError, error.message); refresh(); });
    };

    var fill = function (name, rows) {
      var table = document.getElementById(name);
      var body = table.querySelector("tbody");
      body.textContent = "";
      rows.forEach(function (row) {
        var tr = el("tr");
        tr.setAttribute("data-conversation", row.conversation_id);
        tr.appendChild(el("td", null, name === "waiting" ? String(row.position) : (row.mine ? "我" : (row.operator || ""))));
        tr.appendChild(el("td", null, row.channel_label));
        tr.appendChild(el("td", row.priority > 0 ? "priority" : null, row.reason_label + (row.priority > 0 ? "（优先）" : "")));
        tr.appendChild(el("td", null, clock(row.since)));
        tr.appendChild(el("td", "text", row.last_message));
        var cell = el("td", "row-actions");
        if (name === "waiting") {
          var button = el("button", "take", "接入");
          button.type = "button";
          button.addEventListener("click", function () { take(row.conversation_id); });
          cell.appendChild(button);
        }
        var link = el("a", null, name === "waiting" ? "查看" : "打开");
        link.href = "/console/conversations/" + encodeURIComponent(row.conversation_id);
        cell.appendChild(link);
        tr.appendChild(cell);
        body.appendChild(tr);
      });
      document.getElementById(name + "-count").textContent = String(rows.length);
      show(document.getElementById(name + "-empty"), rows.length === 0);
    };

    var refresh = function () {
      return api("GET", "/console/api/queue").then(function (data) {
        fill("waiting", data.waiting);
        fill("active", data.active);
        fill("returned", data.returned);
        var duty = data.duty;
        document.getElementById("duty").textContent = (duty.in_hours ? "值班时间内" : "现在不在值班时间") + "（" + duty.hours +
          "），在线坐席 " + duty.online + " 人。" + (duty.in_hours ? "" : "转人工的群众会被引导留言或预约回电。");
        showError(benchError, "");
      }).catch(function (error) { showError(benchError, error.message); });
    };
    refresh();
    window.setInterval(refresh, 2000);
  }

  /* ---- one conversation ---------------------------------------------------------------------- */
  var conversation = document.getElementById("conversation");
  if (conversation) {
    var id = conversation.getAttribute("data-id");
    var base = "/console/api/conversations/" + encodeURIComponent(id);
    var transcript = document.getElementById("transcript");
    var problem = document.getElementById("conversation-error");
    var composer = document.getElementById("composer");
    var reply = document.getElementById("reply");
    var takeButton = document.getElementById("take");
    var handBack = document.getElementById("hand-back");
    var closeForm = document.getElementById("close-form");
    var lastId = 0;
    var revealed = false;
    var busy = false;

    var render = function (m) {
      var item = el("li", "msg msg-" + m.sender);
      item.setAttribute("data-id", m.id);
      var head = el("p", "msg-head");
      head.appendChild(el("span", "msg-who", WHO[m.sender] || m.sender));
      head.appendChild(el("span", "msg-time", clock(m.at)));
      item.appendChild(head);
      item.appendChild(el("p", "msg-text", m.text));
      if (m.buttons && m.buttons.length) item.appendChild(el("p", "msg-buttons", "选项：" + m.buttons.join(" / ")));
      transcript.appendChild(item);
    };

    var controls = function (handoff) {
      var status = handoff ? handoff.status : null;
      var mine = handoff && handoff.mine;
      document.getElementById("handoff-status").textContent = handoff
        ? handoff.status_label + (handoff.operator ? "（" + (mine ? "我" : handoff.operator) + "）" : "") + (handoff.priority > 0 ? " · 优先" : "")
        : "机器人服务中";
      var voice = conversation.getAttribute("data-channel") === "voice";
      show(takeButton, !voice && (status === null || status === "waiting" || status === "closed" || status === "abandoned" ||
        status === "transferred" || (status === "returned")));
      show(composer, status === "active" && mine);
      show(handBack, status === "active" && mine);
      show(closeForm, (status === "active" && mine) || (status === "returned" && mine) || status === "waiting");
    };

    var poll = function () {
      if (busy) return Promise.resolve();
      busy = true;
      return api("GET", base + "/messages?after=" + lastId + (revealed ? "&reveal=true" : "")).then(function (data) {
        data.messages.forEach(function (m) { render(m); lastId = Math.max(lastId, m.id); });
        if (data.messages.length) transcript.lastElementChild.scrollIntoView({ block: "nearest" });
        controls(data.handoff);
        showError(problem, "");
        busy = false;
        if (data.more) return poll();
      }).catch(function (error) {
        busy = false;
        if (error.status === 403 && revealed) {  // the reveal expired: back to the masked transcript
          revealed = false;
          lastId = 0;
          transcript.textContent = "";
          document.getElementById("mask-state").textContent = "个人信息已隐藏";
          document.getElementById("reveal-form").hidden = false;
          return;
        }
        showError(problem, error.message);
      });
    };

    var understood = function () {
      api("GET", base + "/understanding").then(function (data) {
        var body = document.querySelector("#understanding tbody");
        body.textContent = "";
        document.getElementById("bot-item").textContent = "当前事项：" + (data.item ? data.item.name + "（" + data.item.department + "）" : "—");
        document.getElementById("bot-paused").textContent = data.available
          ? (data.paused ? "机器人已暂停（人工服务中）" : "机器人正常应答") : (data.error || "");
        (data.turns || []).slice(-12).forEach(function (turn) {
          var tr = el("tr");
          tr.appendChild(el("td", "text", turn.text));
          tr.appendChild(el("td", null, turn.intent || "—"));
          tr.appendChild(el("td", null, turn.confidence.toFixed(2)));
          body.appendChild(tr);
        });
      }).catch(function () { /* shown again at the next refresh */ });
    };

    // operator assist: shown while this operator serves the conversation (bot/handoff/assist.py)
    var assistBox = document.getElementById("assist");
    var assistFor = "";
    var assisted = function () {
      if (composer.hidden) { show(assistBox, false); return; }
      api("GET", base + "/assist").then(function (data) {
        show(assistBox, true);
        if (data.question === assistFor) return;  // the same question: keep what the operator is editing
        assistFor = data.question;
        document.getElementById("assist-question").textContent = data.question || "—";
        show(document.getElementById("assist-answer"), !!data.answer);
        if (data.answer) {
          document.getElementById("assist-item").textContent = data.answer.item;
          document.getElementById("assist-text").textContent = data.answer.text;
        }
        document.getElementById("assist-matches").textContent = data.matches.length
          ? "相近的办事指南：" + data.matches.map(function (m) { return m.item + "（" + m.score.toFixed(2) + "）"; }).join("、") : "";
        var appeal = data.appeal;
        show(document.getElementById("assist-appeal"), !!appeal);
        if (appeal) {
          document.getElementById("assist-route").textContent = appeal.category1 + "/" + appeal.category2 + " → " + appeal.department +
            "（置信度 " + appeal.confidence.toFixed(2) + (appeal.urgent ? "，紧急" : "") + "）";
          document.getElementById("assist-reasons").textContent = appeal.reasons.join("、") || "—";
          document.getElementById("assist-what").value = appeal.what;
          document.getElementById("assist-category1").value = appeal.category1;
          document.getElementById("assist-category2").value = appeal.category2;
          document.getElementById("assist-department").value = appeal.department_code;
          document.getElementById("assist-filed").textContent = "";
        }
      }).catch(function () { /* shown again at the next refresh */ });
    };
    document.getElementById("assist-insert").addEventListener("click", function () {
      reply.value = document.getElementById("assist-text").textContent;
      reply.focus();
    });
    document.getElementById("assist-appeal").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      api("POST", base + "/appeal", formBody(form)).then(function (data) {
        document.getElementById("assist-filed").textContent = "已登记工单 " + data.number + "，已派给" + data.department + "，并告知群众。";
        poll();
      }).catch(function (error) { document.getElementById("assist-filed").textContent = error.message; });
    });

    var action = function (path, body) {
      return api("POST", base + path, body).then(function (data) { showError(problem, ""); poll(); understood(); return data; })
        .catch(function (error) { showError(problem, error.message); poll(); throw error; });
    };

    takeButton.addEventListener("click", function () { action("/take").catch(function () {}); });
    handBack.addEventListener("click", function () { action("/hand-back").catch(function () {}); });
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = reply.value.trim();
      if (!text) return;
      action("/messages", { text: text }).then(function () { reply.value = ""; reply.focus(); }).catch(function () {});
    });
    reply.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) composer.requestSubmit();
    });
    closeForm.addEventListener("submit", function (event) {
      event.preventDefault();
      action("/close", formBody(closeForm)).then(function () { closeForm.reset(); }).catch(function () {});
    });
    document.getElementById("reveal-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var reason = document.getElementById("reveal-reason").value.trim();
      if (reason.length < 2) { showError(problem, "请填写查看个人信息的原因（会记入审计日志）。"); return; }
      api("POST", base + "/reveal", { reason: reason }).then(function (data) {
        revealed = true;
        lastId = 0;
        transcript.textContent = "";
        document.getElementById("mask-state").textContent = "个人信息已显示（" + data.minutes + "分钟内有效，已记入审计日志）";
        document.getElementById("reveal-form").hidden = true;
        poll();
      }).catch(function (error) { showError(problem, error.message); });
    });

    poll();
    understood();
    window.setInterval(poll, 1500);
    window.setInterval(understood, 5000);
    window.setInterval(assisted, 4000);
    window.setTimeout(assisted, 800);
  }
  /* ---- a citizen's personal data (admins): export or erase, the reason audited ------------------ */
  var personal = document.getElementById("personal-data-form");
  if (personal) {
    var pdError = document.getElementById("pd-error");
    var pdResult = document.getElementById("pd-result");
    var pdBody = function () {
      var body = formBody(personal);
      if (!body.phone && !body.conversation_id && !body.wechat_openid) throw new Error("请填写手机号、会话编号或微信 OpenID 中的至少一项。");
      if ((body.reason || "").trim().length < 2) throw new Error("请填写申请依据（会记入审计日志）。");
      return body;
    };
    var pdShow = function (title, data, download) {
      document.getElementById("pd-result-title").textContent = title;
      var text = JSON.stringify(data, null, 2);
      document.getElementById("pd-output").textContent = text;
      var link = document.getElementById("pd-download");
      link.hidden = !download;
      if (download) link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      show(pdResult, true);
    };
    document.getElementById("pd-export").addEventListener("click", function () {
      try { var body = pdBody(); } catch (error) { showError(pdError, error.message); return; }
      api("POST", "/console/api/admin/personal-data/export", body).then(function (data) {
        showError(pdError, ""); pdShow("导出结果", data, true);
      }).catch(function (error) { showError(pdError, error.message); });
    });
    document.getElementById("pd-erase").addEventListener("click", function () {
      try { var body = pdBody(); } catch (error) { showError(pdError, error.message); return; }
      if (!window.confirm("确定删除该群众的全部个人信息？删除后不可恢复。")) return;
      api("POST", "/console/api/admin/personal-data/erase", body).then(function (data) {
        showError(pdError, ""); pdShow("已删除：" + data.summary, data, false);
      }).catch(function (error) { showError(pdError, error.message); });
    });
  }
  /* ---- a guide (admins): checked as it is typed, previewed, published as a new version ---------- */
  var guide = document.getElementById("guide-form");
  if (guide) {
    var problemsBox = document.getElementById("problems");
    var answersBox = document.getElementById("answers");
    var guideBody = function () {
      var fields = {}, confirmed = [];
      Array.prototype.forEach.call(guide.querySelectorAll("[data-field] input:not([type=checkbox]), [data-field] textarea"), function (input) {
        fields[input.name] = input.value;
      });
      Array.prototype.forEach.call(guide.querySelectorAll("input[name=confirm]:checked"), function (box) { confirmed.push(box.value); });
      return { item_id: guide.getAttribute("data-item"), base: Number(guide.getAttribute("data-base")), fields: fields,
               confirmed: confirmed, question: document.getElementById("question").value,
               reason: document.getElementById("reason").value };
    };
    var showProblems = function (problems) {
      problemsBox.textContent = "";
      Array.prototype.forEach.call(guide.querySelectorAll("[data-field]"), function (label) { label.classList.remove("invalid"); });
      (problems || []).forEach(function (p) {
        problemsBox.appendChild(el("p", "error", p.field + "：" + p.reason));
        var label = guide.querySelector('[data-field="' + p.field.split(/[.\[]/)[0] + '"]');
        if (label) label.classList.add("invalid");
      });
    };
    var checkTimer = null;
    var check = function () {
      api("POST", "/console/api/admin/knowledge/check", guideBody()).then(function (data) { showProblems(data.problems); })
        .catch(function (error) { showProblems([{ field: "表单", reason: error.message }]); });
    };
    guide.addEventListener("input", function () { window.clearTimeout(checkTimer); checkTimer = window.setTimeout(check, 400); });
    document.getElementById("preview").addEventListener("click", function () {
      api("POST", "/console/api/admin/knowledge/preview", guideBody()).then(function (data) {
        showProblems(data.problems);
        answersBox.textContent = "";
        data.answers.forEach(function (a) {
          answersBox.appendChild(el("h3", "", a.aspect));
          answersBox.appendChild(el("pre", "answer", a.text));
        });
      }).catch(function (error) { showProblems([{ field: "表单", reason: error.message }]); });
    });
    document.getElementById("publish").addEventListener("click", function () {
      var result = document.getElementById("published");
      result.classList.remove("error");
      result.textContent = "正在发布（生成检索索引约需十几秒）…";
      api("POST", "/console/api/admin/knowledge/publish", guideBody()).then(function (data) {
        result.textContent = "已发布第 " + data.version + " 版，几秒内生效。";
        guide.setAttribute("data-base", String(data.version));
      }).catch(function (error) { result.classList.add("error"); result.textContent = error.message; });
    });
    check();
  }
})();
