/* 夹江县12345 web chat. Text is always inserted as text (never as HTML); URLs become links and
 * numbered lines become lists. Transport: WebSocket, or plain HTTP when WebSockets do not work.
 * Every message the citizen sends has a client id and stays in a local outbox until the server echoes
 * it back, so a dropped network or a reload neither loses nor duplicates it; the page always asks for
 * "every message after the last id I have", so it also gets whatever was pushed while it was away. */
(function () {
  "use strict";

  var PREFS = "jj12345.prefs";
  var STORE = "jj12345.chat.v1";

  function storageGet(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* private mode: keep working without persistence */ }
  }

  /* Large text, on every page. */
  function setupTextSize() {
    var prefs = storageGet(PREFS) || {};
    var buttons = document.querySelectorAll("[data-text-size]");
    function apply(large) {
      document.documentElement.classList.toggle("large-text", !!large);
      for (var i = 0; i < buttons.length; i++) buttons[i].setAttribute("aria-pressed", large ? "true" : "false");
    }
    apply(prefs.largeText);
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function () {
        prefs.largeText = !document.documentElement.classList.contains("large-text");
        storageSet(PREFS, prefs);
        apply(prefs.largeText);
        var log = document.getElementById("log");
        if (log) log.scrollTop = log.scrollHeight; // keep the latest message in view after the reflow
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTextSize();
    var root = document.getElementById("chat");
    if (root) new Chat(root);
  });

  /* ---- rendering ---------------------------------------------------------------------------- */
  var URL_RE = /https?:\/\/[A-Za-z0-9\-._~:\/?#\[\]@!$&'()*+,;=%]+/g;
  var TRAILING = /[.,;:!?)']+$/;
  var ITEM_HEAD = /^【([^】]+)】(.*)$/;
  var NUMBERED = /^(\d{1,3})(?:\.\s+|．\s*|、\s*)(.*)$/; // "1. 材料" or "1、材料", not "1.5倍"

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function newWindowHint() { return el("span", "sr-only", "（在新窗口打开）"); }

  function appendInline(node, text) {
    var last = 0, match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = match[0].replace(TRAILING, "");
      if (match.index > last) node.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", null, url);
      a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer";
      a.appendChild(newWindowHint());
      node.appendChild(a);
      last = match.index + url.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderText(container, text) {
    var lines = String(text || "").split("\n");
    var list = null;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      var numbered = NUMBERED.exec(line);
      if (numbered) {
        var n = parseInt(numbered[1], 10);
        if (!list) { list = el("ol"); if (n !== 1) list.start = n; container.appendChild(list); }
        var li = el("li"); li.value = n;
        appendInline(li, numbered[2]);
        list.appendChild(li);
        continue;
      }
      list = null;
      if (!line.trim()) continue;
      var p = el("p");
      var head = i === 0 ? ITEM_HEAD.exec(line) : null;
      if (head) {
        p.className = "item-head";
        p.appendChild(el("strong", null, "【" + head[1] + "】"));
        appendInline(p, head[2]);
      } else {
        appendInline(p, line);
      }
      container.appendChild(p);
    }
  }

  var WHO = { citizen: "我", bot: "智能客服", operator: "人工客服", system: "系统通知" };

  /* ---- the chat ------------------------------------------------------------------------------ */
  function Chat(root) {
    this.root = root;
    this.embed = root.getAttribute("data-embed") === "1";
    var params = new URLSearchParams(window.location.search);
    this.forceHttp = params.get("transport") === "http";
    this.log = document.getElementById("log");
    this.statusEl = document.getElementById("status");
    this.typingEl = document.getElementById("typing");
    this.input = document.getElementById("input");
    this.form = document.getElementById("composer");
    this.session = null;       // {conversation_id, token}
    this.outbox = [];          // [{client_id, text, display}] not yet echoed by the server
    this.lastId = 0;           // highest message id shown
    this.seen = {};            // message id -> true
    this.titles = {};          // button payload -> title (to show "/ask_fee" as "收费")
    this.mode = this.forceHttp || !window.WebSocket ? "http" : "ws";
    this.ws = null;
    this.ready = false;        // connected, history synced, may send
    this.sentOnSocket = {};    // client ids sent on the current socket
    this.backoff = 1000;
    this.failedOpens = 0;
    this.stopped = false;      // a refused token: stop until the citizen starts a new conversation
    this.retryTimer = null;
    this.holdUntil = 0;        // rate limited until this time
    this.bind();
    if (params.get("ask")) { this.input.value = params.get("ask").slice(0, 500); }
    this.start();
  }

  Chat.prototype.bind = function () {
    var self = this;
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit();
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        self.submit();
      }
    });
    this.input.addEventListener("input", function () { self.autosize(); });
    document.getElementById("new-chat").addEventListener("click", function () { self.restart(); });
    window.addEventListener("offline", function () { self.wentOffline(); });
    window.addEventListener("online", function () { self.cameOnline(); });
    if (this.embed) {
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && window.parent !== window) window.parent.postMessage({ type: "jj12345:close" }, "*");
      });
    }
    setInterval(function () { self.heartbeat(); }, 20000);
  };

  Chat.prototype.autosize = function () {
    this.input.style.height = "auto";
    this.input.style.height = Math.min(this.input.scrollHeight + 4, 200) + "px";
  };

  /* -- session ---------------------------------------------------------------------------------- */
  Chat.prototype.start = function () {
    var saved = storageGet(STORE);
    this.welcome();
    if (saved && saved.conversation_id && saved.token) {
      this.session = { conversation_id: saved.conversation_id, token: saved.token };
      this.outbox = Array.isArray(saved.outbox) ? saved.outbox : [];
      for (var i = 0; i < this.outbox.length; i++) this.renderPending(this.outbox[i]);
      this.connect();
    } else {
      this.newSession();
    }
  };

  Chat.prototype.save = function () {
    if (!this.session) return;
    storageSet(STORE, { conversation_id: this.session.conversation_id, token: this.session.token, outbox: this.outbox });
  };

  Chat.prototype.newSession = function () {
    var self = this;
    this.setStatus("正在连接智能客服…");
    fetch("/api/webchat/session", { method: "POST", headers: { "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, status: response.status, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) {
          self.setStatus(result.body.error || "暂时无法连接，请稍后再试。", true);
          self.retryLater(function () { self.newSession(); }, (result.body.retry_after || 5) * 1000);
          return;
        }
        self.session = result.body;
        self.save();
        self.connect();
      })
      .catch(function () {
        self.setStatus("网络连接不上，正在重试…您也可以拨打12345热线。", true);
        self.retryLater(function () { self.newSession(); });
      });
  };

  Chat.prototype.restart = function () {
    if (this.outbox.length && !window.confirm("还有消息没有发出，确定要开始新对话吗？")) return;
    this.closeSocket();
    storageSet(STORE, null);
    window.location.reload();
  };

  /* -- transport ------------------------------------------------------------------------------- */
  Chat.prototype.connect = function () {
    if (this.stopped || !this.session) return;
    if (this.mode === "http") return this.poll(true);
    var self = this;
    this.closeSocket();
    this.setStatus(navigator.onLine === false ? this.offlineText() : "正在连接智能客服…");
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try { ws = new WebSocket(scheme + window.location.host + "/ws/chat"); } catch (e) { return this.fallBackToHttp(); }
    this.ws = ws;
    this.ready = false;
    this.sentOnSocket = {};
    var opened = false;
    ws.onopen = function () {
      opened = true;
      self.failedOpens = 0;
      self.lastFrame = Date.now();
      ws.send(JSON.stringify({ type: "hello", conversation_id: self.session.conversation_id, token: self.session.token, after: self.lastId }));
    };
    ws.onmessage = function (event) {
      if (ws !== self.ws) return;
      self.lastFrame = Date.now();
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      self.onFrame(frame);
    };
    ws.onclose = function (event) {
      if (ws !== self.ws) return;
      self.ws = null;
      self.ready = false;
      self.showTyping(false);
      if (self.stopped) return;
      if (!opened && ++self.failedOpens >= 3 && navigator.onLine !== false) return self.fallBackToHttp();
      self.setStatus(self.offlineText(), true);
      self.retryLater(function () { self.connect(); });
    };
  };

  Chat.prototype.fallBackToHttp = function () {
    this.mode = "http";
    this.poll(true);
  };

  Chat.prototype.closeSocket = function () {
    if (this.ws) {
      var ws = this.ws;
      this.ws = null;
      try { ws.close(); } catch (e) { /* already closed */ }
    }
    this.ready = false;
  };

  Chat.prototype.retryLater = function (fn, delay) {
    var self = this;
    clearTimeout(this.retryTimer);
    var wait = delay || this.backoff;
    this.backoff = Math.min(this.backoff * 2, 15000);
    this.retryTimer = setTimeout(function () { self.retryTimer = null; fn(); }, wait);
  };

  Chat.prototype.offlineText = function () {
    return "网络连接中断，正在重新连接…您发的消息会在恢复后自动送达，不会丢失。";
  };

  Chat.prototype.wentOffline = function () {
    this.setStatus(this.offlineText(), true);
    if (this.mode === "ws") this.closeSocket();
    this.ready = false;
    this.showTyping(false);
    this.markPending();
  };

  Chat.prototype.cameOnline = function () {
    if (this.stopped) return;
    this.backoff = 1000;
    clearTimeout(this.retryTimer);
    if (!this.session) return this.newSession();
    this.connect();
  };

  Chat.prototype.heartbeat = function () {
    if (this.mode === "ws" && this.ws && this.ready) {
      if (Date.now() - (this.lastFrame || 0) > 50000) { this.ws.close(); return; } // silently dead: reconnect
      try { this.ws.send(JSON.stringify({ type: "ping" })); } catch (e) { /* onclose follows */ }
    }
  };

  Chat.prototype.onFrame = function (frame) {
    switch (frame.type) {
      case "messages": this.receive(frame.messages || []); break;
      case "ready":
        this.ready = true;
        this.backoff = 1000;
        this.setStatus("");
        this.flush();
        break;
      case "typing": this.showTyping(!!frame.on); break;
      case "error": this.onError(frame); break;
      default: break;
    }
  };

  Chat.prototype.onError = function (error) {
    if (error.code === "rate_limited") {
      var self = this;
      this.notice(error.message);
      this.holdUntil = Date.now() + (error.retry_after || 5) * 1000;
      delete this.sentOnSocket[error.client_id];
      this.retryLater(function () { self.flush(); }, (error.retry_after || 5) * 1000 + 200);
      return;
    }
    if (error.code === "invalid_token" || error.code === "expired_token" || error.code === "forbidden" || error.code === "unknown_conversation") {
      this.stopped = true;
      this.ready = false;
      this.showTyping(false);
      this.closeSocket();
      clearTimeout(this.pollTimer);
      this.setStatus(error.message, true);
      this.input.disabled = true;
      this.input.placeholder = "请先点击“开始新的对话”";
      document.getElementById("send").disabled = true;
      var start = this.notice("", "开始新的对话", function () { storageSet(STORE, null); window.location.reload(); });
      start.querySelector("button").focus();
      return;
    }
    this.notice(error.message || "出了点问题，请稍后再试。");
  };

  /* -- sending ---------------------------------------------------------------------------------- */
  Chat.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text) { this.input.focus(); return; }
    this.input.value = "";
    this.autosize();
    this.send(text, text);
    this.input.focus();
  };

  Chat.prototype.send = function (text, display) {
    if (this.stopped) {
      var start = this.log.querySelector(".action-only button");
      if (start) start.focus();
      return;
    }
    var entry = { client_id: newClientId(), text: text, display: display || text };
    this.outbox.push(entry);
    this.save();
    this.renderPending(entry);
    this.flush();
  };

  Chat.prototype.flush = function () {
    if (!this.session || this.stopped || !this.outbox.length) return;
    if (Date.now() < this.holdUntil) return;
    if (this.mode === "http") return this.httpFlush();
    if (!this.ws || !this.ready) return this.markPending();
    for (var i = 0; i < this.outbox.length; i++) {
      var entry = this.outbox[i];
      if (this.sentOnSocket[entry.client_id]) continue;
      try {
        this.ws.send(JSON.stringify({ type: "message", client_id: entry.client_id, text: entry.text }));
        this.sentOnSocket[entry.client_id] = true;
      } catch (e) { break; }
    }
    this.markPending();
  };

  /* -- HTTP fallback ---------------------------------------------------------------------------- */
  Chat.prototype.request = function (method, body) {
    var self = this;
    var path = "/api/webchat/conversations/" + encodeURIComponent(this.session.conversation_id) + "/messages";
    var options = { method: method, headers: { "Authorization": "Bearer " + this.session.token, "Accept": "application/json" } };
    if (body) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    else { path += "?after=" + this.lastId; }
    return fetch(path, options).then(function (response) {
      if (response.status >= 500) throw new Error("server error " + response.status); // retried like a network error
      return response.json().then(function (data) {
        if (!response.ok) {
          data.code = data.code || "http_" + response.status;
          data.message = data.error;
          throw data;
        }
        if (self.stopped) return data;
        if (self.statusEl.textContent) self.setStatus("");
        self.receive(data.messages || []);
        return data;
      });
    });
  };

  Chat.prototype.httpFailed = function (error) {
    if (error && error.code) {
      this.onError(error);
      return;
    }
    this.setStatus(this.offlineText(), true);
    this.markPending();
  };

  Chat.prototype.httpFlush = function () {
    var self = this;
    if (this.httpSending || !this.outbox.length) return;
    var entry = this.outbox[0];
    this.httpSending = true;
    this.showTyping(true);
    this.request("POST", { client_id: entry.client_id, text: entry.text, after: this.lastId })
      .then(function () {
        self.httpSending = false;
        self.showTyping(false);
        if (self.outbox.length && self.outbox[0].client_id === entry.client_id) self.confirm(entry.client_id, null); // echoed already
        self.httpFlush();
      })
      .catch(function (error) {
        self.httpSending = false;
        self.showTyping(false);
        self.httpFailed(error);
        if (!(error && error.code)) self.retryLater(function () { self.httpFlush(); });
      });
  };

  Chat.prototype.poll = function (now) {
    var self = this;
    clearTimeout(this.pollTimer);
    if (this.stopped) return;
    var run = function () {
      if (self.httpSending) return self.poll(false);
      self.request("GET")
        .then(function (data) {
          self.backoff = 1000;
          if (self.outbox.length) self.httpFlush();
          self.pollTimer = setTimeout(run, data.more ? 0 : 3000);
        })
        .catch(function (error) {
          self.httpFailed(error);
          if (!(error && error.code)) self.pollTimer = setTimeout(run, self.backoff = Math.min(self.backoff * 2, 15000));
        });
    };
    this.pollTimer = setTimeout(run, now ? 0 : 3000);
  };

  /* -- receiving ------------------------------------------------------------------------------- */
  Chat.prototype.receive = function (messages) {
    var added = false;
    for (var i = 0; i < messages.length; i++) {
      var m = messages[i];
      if (this.seen[m.id]) continue;
      this.seen[m.id] = true;
      if (m.id > this.lastId) this.lastId = m.id;
      if (m.direction === "in") {
        if (!this.confirm(m.client_id, m)) this.renderMessage(m);
      } else {
        this.renderMessage(m);
        if (m.direction === "out") this.showTyping(false);
      }
      added = true;
    }
    if (added) this.scrollDown();
  };

  /* The server has the message with this client id: drop it from the outbox, settle its bubble. */
  Chat.prototype.confirm = function (clientId, message) {
    if (!clientId) return false;
    var before = this.outbox.length;
    this.outbox = this.outbox.filter(function (e) { return e.client_id !== clientId; });
    if (this.outbox.length !== before) this.save();
    var bubble = this.log.querySelector('[data-client-id="' + cssEscape(clientId) + '"]');
    if (!bubble) return false;
    bubble.classList.remove("pending");
    if (message) {
      bubble.setAttribute("data-id", message.id);
      this.log.appendChild(bubble); // the server's order: after whatever it logged before this message
    }
    var state = bubble.querySelector(".state");
    if (state) state.remove();
    return true;
  };

  Chat.prototype.markPending = function () {
    var waiting = this.mode === "ws" ? !this.ready : navigator.onLine === false;
    var nodes = this.log.querySelectorAll(".msg-in.pending .state");
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = waiting ? "等待网络恢复后自动发送" : "发送中…";
  };

  /* -- drawing --------------------------------------------------------------------------------- */
  Chat.prototype.scrollDown = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Chat.prototype.setStatus = function (text, isError) {
    this.statusEl.textContent = text || "";
    this.statusEl.classList.toggle("error", !!isError && !!text);
  };

  Chat.prototype.showTyping = function (on) {
    this.typingEl.hidden = !on;
    if (on) this.scrollDown();
  };

  Chat.prototype.bubble = function (kind, who) {
    var node = el("div", "msg " + kind);
    node.appendChild(el("span", "who", who));
    var bubble = el("div", "bubble");
    node.appendChild(bubble);
    return { node: node, bubble: bubble };
  };

  Chat.prototype.displayFor = function (text) {
    return text.charAt(0) === "/" && this.titles[text] ? this.titles[text] : text;
  };

  Chat.prototype.renderPending = function (entry) {
    var parts = this.bubble("msg-in pending", WHO.citizen);
    parts.node.setAttribute("data-client-id", entry.client_id);
    parts.bubble.textContent = entry.display;
    parts.node.appendChild(el("span", "state", "发送中…"));
    this.log.appendChild(parts.node);
    this.markPending();
    this.scrollDown();
  };

  Chat.prototype.renderMessage = function (m) {
    if (m.direction === "in") {
      var mine = this.bubble("msg-in", WHO.citizen);
      mine.node.setAttribute("data-id", m.id);
      if (m.client_id) mine.node.setAttribute("data-client-id", m.client_id);
      mine.bubble.textContent = this.displayFor(m.text);
      this.log.appendChild(mine.node);
      return;
    }
    var sender = WHO[m.sender] ? m.sender : "bot";
    var parts = this.bubble("msg-out msg-" + sender, WHO[sender]);
    parts.node.setAttribute("data-id", m.id);
    renderText(parts.bubble, m.text);
    if (m.guide && m.guide.url) {
      var p = el("p", "guide-link");
      var a = el("a", null, "查看“" + m.guide.name + "”完整办事指南");
      a.href = m.guide.url; a.target = "_blank"; a.rel = "noopener";
      a.appendChild(newWindowHint());
      p.appendChild(a);
      parts.bubble.appendChild(p);
    }
    if (m.buttons && m.buttons.length) {
      var group = el("div", "quick");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "可选的问题");
      for (var i = 0; i < m.buttons.length; i++) group.appendChild(this.quickButton(m.buttons[i].title, m.buttons[i].payload));
      parts.node.appendChild(group);
    }
    this.log.appendChild(parts.node);
  };

  Chat.prototype.quickButton = function (title, payload) {
    var self = this;
    if (payload) this.titles[payload] = title;
    var button = el("button", null, title);
    button.type = "button";
    button.addEventListener("click", function () {
      self.send(payload || title, title);
      self.input.focus();
    });
    return button;
  };

  Chat.prototype.notice = function (text, actionLabel, action) {
    var node = el("p", text ? "notice-msg" : "notice-msg action-only", text);
    if (text) node.setAttribute("role", "alert");
    if (actionLabel) {
      var button = el("button", null, actionLabel);
      button.type = "button";
      button.addEventListener("click", action);
      node.appendChild(button);
    }
    this.log.appendChild(node);
    this.scrollDown();
    return node;
  };

  Chat.prototype.welcome = function () {
    var parts = this.bubble("msg-out msg-bot welcome", WHO.bot);
    renderText(parts.bubble,
      "您好！我是夹江县12345政务服务智能客服。办事需要哪些材料、怎么办理、多久办好、要不要收费、去哪里办、能不能网上办，都可以问我。\n" +
      "请直接输入您的问题，或点下面的常见问题：");
    var group = el("div", "quick");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "常见问题");
    var examples = ["身份证丢了要带什么去补办", "孩子刚出生怎么上户口", "开个体户要跑几次", "社保卡补办要多久"];
    for (var i = 0; i < examples.length; i++) group.appendChild(this.quickButton(examples[i], examples[i]));
    parts.node.appendChild(group);
    this.log.appendChild(parts.node);
  };

  /* -- helpers --------------------------------------------------------------------------------- */
  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function cssEscape(value) {
    return window.CSS && window.CSS.escape ? window.CSS.escape(value) : String(value).replace(/[^A-Za-z0-9_-]/g, "\\$&");
  }
})();
