/* ledgerdesk web chat widget: plain JavaScript, no dependencies, no build step.
 * Embed: <script src="https://support.example.com/widget.js" data-inbox="KEY" async></script>
 * Optional, for a platform's logged-in users: data-user-id, data-user-hash (made on your
 * server, see docs/webchat.md), data-name, data-email.
 * Everything is drawn inside a Shadow DOM (open, so browser tests can reach it);
 * every text goes in with textContent. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__ledgerdeskChat) return;
  var KEY = me.getAttribute("data-inbox");
  if (!KEY) return;
  window.__ledgerdeskChat = 1;
  var BASE = new URL(me.src).origin;
  var API = BASE + "/widget/v1/";
  var ZH = /^zh/i.test(navigator.language || "");
  // Only what shows before the server sends the texts in the visitor's language.
  var T = ZH
    ? { open: "打开聊天", title: "在线客服", connecting: "正在连接…", reconnecting: "正在重新连接…",
        unavailable: "聊天暂时不可用，稍后重试…", send: "发送", close: "关闭聊天" }
    : { open: "Open chat", title: "Chat with us", connecting: "Connecting…", reconnecting: "Reconnecting…",
        unavailable: "Chat is unavailable, trying again soon…", send: "Send", close: "Close chat" };
  var PREFIX = "ledgerdesk:" + KEY + ":";
  var TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"];

  function load(name) {
    try { return JSON.parse(localStorage.getItem(PREFIX + name)); } catch (e) { return null; }
  }
  function save(name, value) {
    try {
      if (value === null) localStorage.removeItem(PREFIX + name);
      else localStorage.setItem(PREFIX + name, JSON.stringify(value));
    } catch (e) { /* private mode: the chat still works for this page */ }
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16)), hex = "";
    for (var i = 0; i < 16; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    return hex;
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (_, k) { return values[k]; });
  }

  // State. The token and the unacknowledged messages survive page loads.
  var token = load("token"), pending = load("pending") || [], lastId = null;
  var session = null, texts = T, limits = { max_message_chars: 5000, max_upload_bytes: 10485760 };
  var conv = null, socket = null, ready = false, attempt = 0, retryTimer = null, watchdog = null;
  var shown = {}, byClient = {}, started = false, open = false, typingOut = 0, typingStop = null;
  var asking = null; // the assistant's "did this help?" buttons, while they are on screen
  var cards = {}; // satisfaction survey cards, by conversation id

  // The frame: a launcher and a panel in a shadow root, so the page's CSS cannot reach in.
  var host = el("div");
  host.setAttribute("data-ledgerdesk", "chat");
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent =
    ":host{all:initial}*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}" +
    ".launch{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;" +
    "background:#1f5eff;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 14px #0004;z-index:2147483646}" +
    ".dot{position:absolute;top:4px;right:4px;width:12px;height:12px;border-radius:50%;background:#f33;display:none}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:360px;max-width:calc(100vw - 24px);height:540px;" +
    "max-height:calc(100vh - 110px);display:none;flex-direction:column;background:#fff;color:#111;" +
    "border-radius:12px;box-shadow:0 8px 30px #0005;overflow:hidden;z-index:2147483647}" +
    ".open{display:flex}.head{background:#1f5eff;color:#fff;padding:12px 14px;display:flex;align-items:center}" +
    ".head b{flex:1;font-weight:600}.x{background:none;border:0;color:#fff;font-size:20px;cursor:pointer}" +
    ".state{padding:6px 12px;background:#fff4d6;color:#6b4e00;font-size:13px}.state:empty{display:none}" +
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f6f7f9}" +
    ".msg{max-width:82%;margin:6px 0;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;border:1px solid #e3e5e8}" +
    ".mine{margin-left:auto;background:#1f5eff;color:#fff;border-color:#1f5eff}" +
    ".system{max-width:100%;background:none;border:0;color:#666;font-size:12px;text-align:center}" +
    ".who{display:block;font-size:11px;opacity:.75}.tick{display:block;font-size:11px;opacity:.8;text-align:right}" +
    ".file{display:block;margin-top:6px;padding:4px 8px;border-radius:6px;border:1px solid #ccd;background:#fff;color:#123;cursor:pointer;text-align:left}" +
    ".file img{display:block;max-width:200px;max-height:160px;margin-top:4px}" +
    ".typing{padding:0 12px 4px;color:#666;font-size:12px;min-height:18px;background:#f6f7f9}" +
    ".offline{padding:10px 12px;background:#eef3ff;font-size:13px}.offline form{display:flex;gap:6px;margin-top:6px}" +
    ".offline input{flex:1;padding:6px;border:1px solid #bbc;border-radius:6px}" +
    ".bar{display:flex;gap:6px;padding:8px;border-top:1px solid #e3e5e8;align-items:flex-end}" +
    "textarea{flex:1;resize:none;height:40px;max-height:120px;padding:8px;border:1px solid #ccd;border-radius:8px}" +
    "button.go,.offline button{padding:8px 12px;border:0;border-radius:8px;background:#1f5eff;color:#fff;cursor:pointer}" +
    ".clip{padding:8px;border:1px solid #ccd;border-radius:8px;background:#fff;cursor:pointer}" +
    ".note{padding:4px 12px;color:#b00020;font-size:12px}.note:empty{display:none}" +
    ".ok{display:block;margin-top:4px;padding:0;border:0;background:none;color:#1f8a4c;font-size:11px;cursor:pointer}" +
    ".src{display:block;margin-top:4px;font-size:12px;color:#1f5eff}.ask{display:flex;gap:6px;margin-top:6px}" +
    ".ask button{padding:4px 8px;border:1px solid #1f5eff;border-radius:6px;background:#fff;color:#1f5eff;cursor:pointer}" +
    ".ask .on{background:#1f5eff;color:#fff}.rate textarea{display:block;width:100%;margin:6px 0}";
  var launch = el("button", "launch", "💬"), dot = el("span", "dot");
  launch.setAttribute("aria-label", T.open);
  launch.appendChild(dot);
  var panel = el("div", "panel");
  panel.setAttribute("role", "dialog");
  var head = el("div", "head"), title = el("b", "", T.title), closeBtn = el("button", "x", "×");
  closeBtn.setAttribute("aria-label", T.close);
  head.appendChild(title);
  head.appendChild(closeBtn);
  var state = el("div", "state");
  state.setAttribute("aria-live", "polite");
  var offline = el("div", "offline");
  offline.style.display = "none";
  var log = el("div", "log");
  log.setAttribute("role", "log");
  var typing = el("div", "typing"), note = el("div", "note");
  var bar = el("div", "bar"), input = el("textarea"), clip = el("button", "clip", "📎"), go = el("button", "go", T.send);
  var file = el("input");
  file.type = "file";
  file.accept = TYPES.join(",");
  file.style.display = "none";
  bar.appendChild(clip);
  bar.appendChild(input);
  bar.appendChild(go);
  bar.appendChild(file);
  [head, state, offline, log, typing, note, bar].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(style);
  root.appendChild(launch);
  root.appendChild(panel);
  function mount() { (document.body || document.documentElement).appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  function setState(text) { state.textContent = text || ""; }
  function setNote(text) { note.textContent = text || ""; }

  launch.onclick = function () {
    open = !open;
    panel.classList.toggle("open", open);
    dot.style.display = "none";
    if (open) { start(); input.focus(); }
  };
  closeBtn.onclick = function () { open = false; panel.classList.remove("open"); };

  // The session: who this visitor is, their recent conversation, the texts, the limits.
  function call(path, options) {
    options = options || {};
    options.headers = options.headers || {};
    if (token && path !== "session") options.headers.Authorization = "Bearer " + token;
    return fetch(API + path + "?inbox=" + encodeURIComponent(KEY), options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var error = new Error((body.error && body.error.message) || "HTTP " + r.status);
          error.status = r.status;
          throw error;
        }
        return body;
      });
    });
  }

  function start() {
    if (started) return;
    started = true;
    setState(T.connecting);
    var body = { inbox: KEY, language: navigator.language || "en" };
    if (token) body.visitor_token = token;
    ["user-id", "user-hash", "name", "email"].forEach(function (a) {
      var v = me.getAttribute("data-" + a);
      if (v) body[a.replace("-", "_")] = v;
    });
    call("session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(begin, function (error) {
        started = false;
        if (error.status === 403 || error.status === 404 || error.status === 422) {
          setState(error.message); // a setup problem the site's owner must fix
          return;
        }
        setState(T.unavailable);
        retryTimer = setTimeout(start, backoff());
      });
  }

  function begin(data) {
    session = data;
    token = data.token;
    save("token", token);
    texts = data.texts || T;
    limits = data.limits || limits;
    lastId = data.last_event_id;
    save("last", lastId);
    title.textContent = texts.title;
    input.placeholder = texts.placeholder;
    go.textContent = texts.send;
    clip.title = texts.attach;
    log.textContent = "";
    shown = {};
    byClient = {};
    log.appendChild(el("div", "msg", data.greeting));
    var current = null;
    (data.conversations || []).forEach(function (c) {
      if (!current && c.status !== "closed") current = c;
    });
    if (current) {
      conv = current.id;
      current.messages.forEach(function (m) { showMessage(m, true); });
    }
    (data.assistant_turns || []).forEach(assisted);
    (data.surveys || []).forEach(survey);
    pending.forEach(function (p) { if (!shown["c" + p.client_id]) bubble(p); });
    if (!data.agents_online && !data.has_email) offerEmail();
    connect();
  }

  // The real-time connection: hello, resume from the last event id, heartbeats, backoff.
  function backoff() {
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt++));
    return delay / 2 + Math.random() * delay / 2;
  }

  function connect() {
    clearTimeout(retryTimer);
    ready = false;
    setState(attempt ? texts.reconnecting : texts.connecting);
    var ws = (socket = new WebSocket(BASE.replace(/^http/, "ws") + "/api/v1/realtime"));
    ws.onopen = function () {
      var hello = { type: "hello", token: token };
      var last = load("last");
      if (last != null) hello.last_event_id = last;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (e) {
      alive();
      var frame;
      try { frame = JSON.parse(e.data); } catch (x) { return; }
      onFrame(frame);
    };
    ws.onclose = function (e) {
      if (ws !== socket) return;
      ready = false;
      clearTimeout(watchdog);
      if (e.code === 4401 || e.code === 4400) {
        // A revoked token or a stream the server no longer has: start a fresh session.
        if (e.code === 4401) { token = null; save("token", null); }
        save("last", null);
        started = false;
        setState(texts.reconnecting);
        retryTimer = setTimeout(start, backoff());
        return;
      }
      setState(texts.reconnecting);
      retryTimer = setTimeout(connect, backoff());
    };
  }

  function alive() {
    clearTimeout(watchdog);
    watchdog = setTimeout(function () { if (socket) socket.close(); }, 65000);
  }

  function put(frame) {
    if (socket && ready && socket.readyState === 1) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function onFrame(f) {
    if (f.type === "ready") {
      ready = true;
      attempt = 0;
      setState("");
      pending.forEach(function (p) { if (!p.wait) transmit(p); }); // unacked: send again
    } else if (f.type === "ping") {
      put({ type: "pong" });
    } else if (f.type === "event") {
      lastId = f.id;
      save("last", lastId);
      var d = f.data || {};
      if (f.kind === "conversation.updated" && d.conversation && d.conversation.id === conv &&
          d.conversation.status === "closed") {
        conv = null;
        log.appendChild(el("div", "msg system", texts.closed));
      } else if (d.turn) {
        assisted(d.turn);
      } else if (d.survey) {
        survey(d.survey);
      } else if (d.message) {
        var mine = d.message.client_id && byClient[d.message.client_id];
        if (mine || conv === null || d.message.conversation_id === conv) {
          if (conv === null) conv = d.message.conversation_id;
          showMessage(d.message, false);
        }
      }
    } else if (f.type === "ack") {
      acked(f);
    } else if (f.type === "error" && f.client_id) {
      refused(f);
    } else if (f.type === "typing" && f.conversation_id === conv) {
      typing.textContent = f.typing ? texts.typing : "";
      clearTimeout(typing.t);
      if (f.typing) typing.t = setTimeout(function () { typing.textContent = ""; }, 6000);
    }
  }

  // Messages on screen: known by id (so a replayed event is never shown twice) and, for
  // the visitor's own, by client_id until the server has acknowledged them.
  function showMessage(m, quiet) {
    var node = shown[m.id] || (m.client_id && byClient[m.client_id]);
    if (node) {
      if (m.author_kind === "customer") node.tick.textContent = texts.delivered;
    } else {
      var who = m.author_kind === "customer" ? "mine" : m.author_kind === "system" ? "system" : "";
      node = render(m.body, m.attachments, who, m.author_kind === "assistant" ? texts.assistant : texts.support);
      if (m.signature) badge(node, m);
      if (m.author_kind === "agent") { typing.textContent = ""; unask(); }
      if (m.author_kind === "customer") node.tick.textContent = texts.delivered;
      if (!quiet && !open && m.author_kind !== "customer") dot.style.display = "block";
    }
    shown[m.id] = node;
    if (m.client_id) shown["c" + m.client_id] = node;
  }

  function render(body, attachments, who, label) {
    var node = el("div", "msg " + who);
    if (who === "") node.appendChild(el("span", "who", label));
    node.appendChild(document.createTextNode(body || ""));
    (attachments || []).forEach(function (a) { node.appendChild(attachment(a)); });
    node.tick = el("span", "tick");
    if (who === "mine") node.appendChild(node.tick);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  // A signed reply: a badge with the visitor's anti-phishing code; a click copies the
  // message and its signature, to be checked on the verify page.
  function badge(node, m) {
    var b = el("button", "ok", "✓ " + texts.verified + (m.anti_phishing_code ? " · " + m.anti_phishing_code : ""));
    b.title = texts.verified_hint + " " + BASE + "/verify";
    b.onclick = function () {
      if (navigator.clipboard) navigator.clipboard.writeText(m.body + "\n\nSignature: " + m.signature);
    };
    node.appendChild(b);
  }

  // The assistant's answer: links to its articles and, on the latest one, "This helped" /
  // "Talk to a person" (docs/webchat.md, "The assistant").
  function assisted(t) {
    var node = shown[t.message_id];
    if (!node || node.turn) return;
    node.turn = 1;
    if (t.sources.length) node.appendChild(el("span", "who", texts.sources));
    t.sources.forEach(function (s) {
      if (!/^\/help\//.test(s.url)) return;
      var a = el("a", "src", s.title);
      a.href = BASE + s.url;
      a.target = "_blank";
      a.rel = "noopener";
      node.appendChild(a);
    });
    unask();
    if (!t.ask) return;
    asking = el("div", "ask");
    [["helped", texts.helped], ["human", texts.human]].forEach(function (v) {
      var b = el("button", "", v[1]);
      b.onclick = function () {
        call("assistant/feedback", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ conversation_id: t.conversation_id, message_id: t.message_id, verdict: v[0] }) })
          .then(function () {
            unask();
            if (v[0] === "helped") log.appendChild(el("div", "msg system", texts.thanks));
          }, function (error) { setNote(error.message); });
      };
      asking.appendChild(b);
    });
    node.appendChild(asking);
    log.scrollTop = log.scrollHeight;
  }

  // The satisfaction survey of a solved conversation: 1 to 5 stars and a comment
  // (docs/feedback.md). A card answered in another tab turns into the thanks.
  function survey(s) {
    var card = cards[s.conversation_id], chosen = 0;
    if (s.status !== "sent") { if (card && s.status === "answered") card.textContent = texts.survey_thanks; return; }
    if (card || (conv !== null && s.conversation_id !== conv)) return;
    card = cards[s.conversation_id] = el("div", "msg rate", texts.survey_ask);
    var stars = el("div", "ask"), comment = el("textarea"), send = el("button", "go", texts.survey_send);
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = el("button", "", "★");
      b.title = n;
      b.setAttribute("aria-label", n);
      b.onclick = function () {
        chosen = n;
        [].forEach.call(stars.children, function (c, i) { c.className = i < n ? "on" : ""; });
      };
      stars.appendChild(b);
    });
    comment.placeholder = texts.survey_comment;
    comment.maxLength = 2000;
    send.onclick = function () {
      if (!chosen) return;
      call("survey", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ conversation_id: s.conversation_id, rating: chosen, comment: comment.value.trim() || null }) })
        .then(function () { card.textContent = texts.survey_thanks; }, function (error) { setNote(error.message); });
    };
    [stars, comment, send].forEach(function (n) { card.appendChild(n); });
    log.appendChild(card);
    log.scrollTop = log.scrollHeight;
  }

  function unask() {
    if (asking && asking.parentNode) asking.parentNode.removeChild(asking);
    asking = null;
  }

  function attachment(a) {
    var label = "📎 " + a.filename + " (" + Math.max(1, Math.round(a.size / 1024)) + " KB)";
    var ours = /^\/widget\/v1\/attachments\/[0-9a-f]{64}$/.test(a.url || "");
    var button = el(ours ? "button" : "span", "file", label);
    if (!ours) return button;
    function fetchBlob() {
      return fetch(BASE + a.url, { headers: { Authorization: "Bearer " + token } }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.blob();
      });
    }
    if (/^image\//.test(a.content_type)) {
      fetchBlob().then(function (blob) {
        var img = el("img");
        img.alt = a.filename;
        img.src = URL.createObjectURL(blob);
        button.appendChild(img);
      }, function () {});
    }
    button.onclick = function () {
      fetchBlob().then(function (blob) { window.open(URL.createObjectURL(blob), "_blank", "noopener"); });
    };
    return button;
  }

  // Sending: a client_id per message, "sending…" until the ack, resent after reconnects.
  function bubble(p) {
    var node = render(p.body, p.attachments, "mine", "");
    node.tick.textContent = texts.sending || "…";
    byClient[p.client_id] = node;
    return node;
  }

  function queue(body, attachments) {
    var p = { client_id: uuid(), body: body, attachments: attachments || [] };
    if (conv !== null) p.conversation_id = conv;
    pending.push(p);
    save("pending", pending);
    bubble(p);
    transmit(p);
    start();
  }

  function transmit(p) {
    var frame = { type: "send", client_id: p.client_id, body: p.body, attachments: p.attachments };
    if (p.conversation_id == null && conv !== null) p.conversation_id = conv;
    // Only the first message opens a conversation; the others wait for its ack.
    if (p.conversation_id == null && pending[0] !== p) return;
    if (p.conversation_id != null) frame.conversation_id = p.conversation_id;
    put(frame);
  }

  function forget(clientId) {
    pending = pending.filter(function (p) { return p.client_id !== clientId; });
    save("pending", pending);
  }

  function acked(f) {
    forget(f.client_id);
    conv = f.conversation_id;
    var node = byClient[f.client_id];
    if (node && node.tick.textContent !== texts.delivered) node.tick.textContent = texts.sent;
    if (f.message_id && node) shown[f.message_id] = node;
    // Messages written before the first ack waited for the conversation it opened.
    pending.forEach(function (p) { if (!p.wait && p.conversation_id == null) transmit(p); });
  }

  function refused(f) {
    var node = byClient[f.client_id];
    var p = pending.filter(function (q) { return q.client_id === f.client_id; })[0];
    if (!p) return;
    if (f.code === "rate_limited") {
      // Kept, and sent again when the server says: nothing the visitor wrote is lost.
      var seconds = f.retry_after || 5;
      p.wait = true;
      if (node) node.tick.textContent = fill(texts.retrying, { seconds: seconds });
      setTimeout(function () { p.wait = false; transmit(p); }, seconds * 1000);
      return;
    }
    if (f.code === "conflict" && p.conversation_id != null) {
      // The conversation was closed meanwhile: this message opens a new one.
      conv = null;
      delete p.conversation_id;
      save("pending", pending);
      transmit(p);
      return;
    }
    forget(f.client_id);
    if (node) node.tick.textContent = fill(texts.refused, { reason: f.error });
  }

  function submit() {
    var body = input.value.trim();
    if (!body) return;
    var max = limits.max_message_chars || 5000;
    if (body.length > max) { setNote(fill(texts.too_long, { max: max })); return; }
    setNote("");
    input.value = "";
    queue(body);
    stopTyping();
  }
  go.onclick = submit;
  input.onkeydown = function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  };
  // Typing: at most one "typing" frame every 3 s, and "stopped" after 4 s of quiet.
  input.oninput = function () {
    if (conv === null) return;
    var now = Date.now();
    if (now - typingOut > 3000) { typingOut = now; put({ type: "typing", conversation_id: conv, typing: true }); }
    clearTimeout(typingStop);
    typingStop = setTimeout(stopTyping, 4000);
  };
  function stopTyping() {
    clearTimeout(typingStop);
    if (typingOut && conv !== null) put({ type: "typing", conversation_id: conv, typing: false });
    typingOut = 0;
  }

  // Attachments: checked here for type and size, checked again by the server (by content).
  clip.onclick = function () { file.click(); };
  file.onchange = function () {
    var f = file.files && file.files[0];
    file.value = "";
    if (!f) return;
    if ((limits.upload_types || TYPES).indexOf(f.type) < 0) { setNote(texts.file_type); return; }
    if (f.size > limits.max_upload_bytes) {
      setNote(fill(texts.file_size, { mb: Math.round(limits.max_upload_bytes / 1048576) }));
      return;
    }
    setNote(texts.sending);
    var form = new FormData();
    form.append("file", f, f.name);
    call("attachments", { method: "POST", body: form }).then(function (meta) {
      setNote("");
      var text = input.value.trim();
      input.value = "";
      queue(text || "📎 " + meta.filename, [meta]);
    }, function (error) {
      setNote(fill(texts.upload_failed, { reason: error.message }));
    });
  };

  // Nobody online: ask for an email address, and say that the reply goes there.
  function offerEmail() {
    offline.textContent = "";
    offline.appendChild(el("div", "", texts.offline));
    var form = el("form"), email = el("input"), button = el("button", "", texts.email_save);
    email.type = "email";
    email.required = true;
    email.placeholder = texts.email_placeholder;
    form.appendChild(email);
    form.appendChild(button);
    offline.appendChild(form);
    offline.style.display = "block";
    form.onsubmit = function (e) {
      e.preventDefault();
      var body = { email: email.value.trim() };
      if (conv !== null) body.conversation_id = conv;
      call("email", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
        .then(function (r) {
          offline.textContent = "";
          offline.appendChild(el("div", "", r.message));
        }, function (error) { setNote(error.message); });
    };
  }

  // A returning visitor reconnects at once, so replies that came meanwhile show up.
  if (token || pending.length) start();
})();
