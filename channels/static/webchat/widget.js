/* 夹江县12345 chat widget. Paste on any page of the county website:
 *   <script src="https://<the assistant's address>/widget.js" defer></script>
 * It adds an "在线咨询" button; the chat opens in a panel (full screen on phones) holding the chat page
 * in an iframe, so the county site's styles and scripts and the chat never interfere. */
(function () {
  "use strict";
  if (window.__jj12345Widget) return;
  window.__jj12345Widget = true;

  var script = document.currentScript || document.querySelector('script[src$="/widget.js"]');
  var base = new URL(script ? script.src : "/widget.js", window.location.href).origin;
  var label = (script && script.getAttribute("data-label")) || "在线咨询";

  var css = [
    ".jj12345-open{position:fixed;right:16px;bottom:16px;z-index:2147483000;display:flex;align-items:center;gap:8px;",
    "min-height:52px;padding:10px 20px;border:2px solid #fff;border-radius:28px;background:#0a4f9c;color:#fff;",
    "font:700 18px/1.3 'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.3);cursor:pointer}",
    ".jj12345-open:hover{background:#083c77}",
    ".jj12345-open:focus-visible,.jj12345-close:focus-visible{outline:3px solid #b35900;outline-offset:3px}",
    ".jj12345-badge{background:#c8102e;border-radius:6px;padding:0 6px;font-size:14px}",
    ".jj12345-panel{position:fixed;right:16px;bottom:84px;z-index:2147483001;width:420px;max-width:calc(100vw - 32px);",
    "height:640px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;border-radius:12px;",
    "overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.35)}",
    ".jj12345-panel[hidden]{display:none}",
    ".jj12345-bar{display:flex;align-items:center;justify-content:space-between;gap:8px;padding-left:12px;background:#0a4f9c;color:#fff;",
    "font:700 17px/1.3 'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif}",
    ".jj12345-title{display:flex;align-items:center;gap:8px;margin:0;font:inherit}",
    ".jj12345-close{min-height:44px;padding:6px 16px;border:0;background:transparent;color:#fff;",
    "font:700 16px/1.3 'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;cursor:pointer}",
    ".jj12345-frame{flex:1;width:100%;border:0}",
    "@media (max-width:600px){.jj12345-panel{right:0;bottom:0;width:100vw;max-width:100vw;height:100%;max-height:100%;border-radius:0}}"
  ].join("");

  function init() {
    var style = document.createElement("style");
    style.textContent = css;
    document.head.appendChild(style);

    var open = document.createElement("button");
    open.type = "button";
    open.className = "jj12345-open";
    open.setAttribute("aria-expanded", "false");
    open.setAttribute("aria-controls", "jj12345-panel");
    var badge = document.createElement("span");
    badge.className = "jj12345-badge";
    badge.setAttribute("aria-hidden", "true");
    badge.textContent = "12345";
    open.appendChild(badge);
    open.appendChild(document.createTextNode(label));

    var panel = document.createElement("div");
    panel.id = "jj12345-panel";
    panel.className = "jj12345-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "夹江县12345政务服务在线咨询");
    panel.hidden = true;
    var bar = document.createElement("div");
    bar.className = "jj12345-bar";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "jj12345-close";
    close.textContent = "关闭";
    var cross = document.createElement("span");
    cross.setAttribute("aria-hidden", "true");
    cross.textContent = " ✕";
    close.appendChild(cross);
    var title = document.createElement("p");
    title.className = "jj12345-title";
    var titleBadge = badge.cloneNode(true);
    title.appendChild(titleBadge);
    title.appendChild(document.createTextNode("夹江县政务服务 在线咨询"));
    bar.appendChild(title);
    bar.appendChild(close);
    panel.appendChild(bar);

    var frame = null;
    function show() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.className = "jj12345-frame";
        frame.title = "夹江县12345政务服务智能客服";
        frame.src = base + "/?embed=1";
        panel.appendChild(frame);
      }
      panel.hidden = false;
      open.setAttribute("aria-expanded", "true");
      frame.focus();
    }
    function hide() {
      panel.hidden = true;
      open.setAttribute("aria-expanded", "false");
      open.focus();
    }
    open.addEventListener("click", function () { if (panel.hidden) show(); else hide(); });
    close.addEventListener("click", hide);
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") hide(); });
    window.addEventListener("message", function (event) {
      if (event.origin === base && event.data && event.data.type === "jj12345:close" && !panel.hidden) hide();
    });

    document.body.appendChild(panel);
    document.body.appendChild(open);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
