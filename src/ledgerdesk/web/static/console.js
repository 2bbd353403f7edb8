/*
 * console.js: keeps the agent console live. Plain JavaScript, no dependencies, no build.
 *
 * The WebSocket says *that* something changed; the changed piece is then fetched
 * as HTML rendered by the server (same template macro, escaping, link checks and
 * permission checks as the full page). This file never builds HTML from strings:
 * what it makes itself (a reply while it is being sent, indicator texts) it fills
 * with textContent.
 *
 * HOOKS (stable; the end-to-end browser tests rely on them)
 *
 *   body[data-live="inbox"|"conversation"]   pages that go live; others only get presence
 *   body[data-last-event-id]                  stream head at render time; kept current as
 *                                             events arrive (resume point after reconnects)
 *   body[data-csrf-token]                     sent as X-CSRF-Token on console POSTs
 *   script#console-strings                    UI texts in the agent's language (JSON)
 *   #connection-state[data-state]             idle | connecting | open | reconnecting |
 *                                             signed-out | out-of-sync; shown unless "open"
 *   #presence-form, #presence-status          the agent's own online/away/offline choice
 *
 *   Inbox
 *   #inbox-table[data-rows-query]             the page's filters, for the row endpoint
 *   #inbox-table[data-live-insert]            "true" on the first page: new rows go on top
 *   #inbox-table[data-has-more]               "true" when older pages exist
 *   #inbox-rows > tr[data-conversation-id]    one row per conversation, newest first
 *   #inbox-empty                              shown when the table is empty
 *   tr.live-updated                           briefly set on a row that was added or changed
 *
 *   Conversation
 *   #thread[data-conversation-id]             the message list (an <ol>)
 *   #thread > li[data-message-id]             a stored message (data-client-id when sent
 *                                             from the console or the widget)
 *   #thread > li.pending[data-client-id]      a reply on its way; replaced by the stored one
 *   #thread > li.failed                       a reply the server refused (reason in .meta)
 *   #composer, #composer textarea[name=body], #composer input[name=internal]
 *   #composer-error                           why the last reply was not sent
 *   #typing-indicator                         "The customer is typing…", "Name is replying…"
 *   #collision-warning                        "Name is also viewing/replying to this conversation"
 *   #conversation-badges[data-status][data-priority]
 *   #properties-panel, #properties            the side panel form; #properties-stale when
 *                                             someone else changed what is being edited
 *   #conversation-tags
 *
 * ENDPOINTS
 *
 *   WS   /api/v1/realtime                     hello {last_event_id}, then events, typing,
 *                                             send/ack, ping/pong (docs/realtime.md)
 *   GET  /inbox/rows/{id}?{rows-query}        one <tr>; 204 when it is not in this view
 *   GET  /conversations/{id}/messages/{mid}   one <li> of the thread
 *   GET  /conversations/{id}/state            badges, properties panel and tags, by id
 *   POST /conversations/{id}/viewing          viewing=true|false, typing=true|false
 *   POST /conversations/{id}/messages         the composer's fallback when the socket is down
 *   POST /presence                            status=online|away|offline
 */
(function () {
  "use strict";

  var body = document.body;
  var csrfToken = body.dataset.csrfToken || "";
  var strings = readStrings();

  var VIEWING_EVERY_MS = 20000;
  var VIEWING_EXPIRES_MS = 45000;
  var TYPING_EVERY_MS = 3000;
  var TYPING_IDLE_MS = 5000;
  var TYPING_EXPIRES_MS = 7000;
  var SILENCE_LIMIT_MS = 50000; // the server pings every 20 s
  var MAX_FRAME_CHARS = 60000; // the server refuses frames over 64 KiB

  function readStrings() {
    var element = document.getElementById("console-strings");
    try {
      return element ? JSON.parse(element.textContent) : {};
    } catch (error) {
      return {};
    }
  }

  function text(key, values) {
    var template = strings[key] || key;
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values && values[name] !== undefined ? String(values[name]) : "";
    });
  }

  function templateOf(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content;
  }

  // A fragment from the console. A lost login answers with a redirect, which is not
  // followed (it would return the login page as if it were the fragment).
  function fetchFragment(url) {
    return fetch(url, {
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
      headers: { Accept: "text/html" },
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 0) {
        return { status: 0, html: "" };
      }
      if (response.status !== 200) {
        return { status: response.status, html: "" };
      }
      return response.text().then(function (html) {
        return { status: 200, html: html };
      });
    });
  }

  function post(url, fields) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      redirect: "manual",
      headers: {
        "X-CSRF-Token": csrfToken,
        "X-Requested-With": "fetch",
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(fields),
    });
  }

  // Presence (every page) ----------------------------------------------------------

  function setUpPresence() {
    var form = document.getElementById("presence-form");
    var select = document.getElementById("presence-status");
    if (!form || !select) return;
    var saved = select.value;
    select.addEventListener("change", function () {
      var chosen = select.value;
      post(form.action, { status: chosen })
        .then(function (response) {
          if (response.status !== 204) throw new Error("status " + response.status);
          saved = chosen;
          var dot = form.querySelector(".presence-dot");
          if (dot) dot.className = "presence-dot presence-" + chosen;
        })
        .catch(function () {
          select.value = saved;
          window.alert(text("presence_failed"));
        });
    });
  }

  // The connection -----------------------------------------------------------------

  var indicator = document.getElementById("connection-state");
  var connection = {
    socket: null,
    ready: false,
    everReady: false,
    stopped: false,
    attempts: 0,
    lastEventId: parseInt(body.dataset.lastEventId, 10),
    reconnectTimer: null,
    silenceTimer: null,
    showTimer: null,
  };
  var page = {
    onReady: function () {},
    onEvent: function () {},
    onTyping: function () {},
    onAck: function () {},
    onError: function () {},
    onStop: function () {},
  };

  function showState(state) {
    if (!indicator) return;
    indicator.dataset.state = state;
    clearTimeout(connection.showTimer);
    var label = {
      connecting: text("connecting"),
      reconnecting: text("reconnecting"),
      "signed-out": text("signed_out"),
      "out-of-sync": text("out_of_sync"),
    }[state];
    indicator.textContent = label || "";
    if (state === "connecting") {
      // The first connection is usually quick: show the word only if it is not.
      indicator.hidden = true;
      connection.showTimer = setTimeout(function () {
        indicator.hidden = indicator.dataset.state !== "connecting";
      }, 1000);
    } else {
      indicator.hidden = !label;
    }
  }

  function connect() {
    if (connection.stopped || connection.socket) return;
    clearTimeout(connection.reconnectTimer);
    connection.reconnectTimer = null;
    showState(connection.everReady ? "reconnecting" : "connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + "/api/v1/realtime");
    } catch (error) {
      scheduleReconnect();
      return;
    }
    connection.socket = socket;
    socket.addEventListener("open", function () {
      var hello = { type: "hello" };
      if (isFinite(connection.lastEventId)) hello.last_event_id = connection.lastEventId;
      socket.send(JSON.stringify(hello));
      expectTraffic(socket);
    });
    socket.addEventListener("message", function (message) {
      if (socket !== connection.socket) return;
      expectTraffic(socket);
      var frame;
      try {
        frame = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      onFrame(frame);
    });
    socket.addEventListener("close", function (event) {
      if (socket !== connection.socket) return;
      dropSocket();
      if (event.code === 4401) {
        stop("signed-out");
      } else if (event.code === 4400) {
        stop("out-of-sync");
      } else {
        scheduleReconnect();
      }
    });
  }

  // A connection that went silent (a sleeping laptop, a dead NAT entry) is given up
  // on at once rather than after the browser's own, much longer, timeout.
  function expectTraffic(socket) {
    clearTimeout(connection.silenceTimer);
    connection.silenceTimer = setTimeout(function () {
      if (socket !== connection.socket) return;
      dropSocket();
      try {
        socket.close();
      } catch (error) {
        /* already closing */
      }
      scheduleReconnect();
    }, SILENCE_LIMIT_MS);
  }

  function dropSocket() {
    clearTimeout(connection.silenceTimer);
    connection.socket = null;
    connection.ready = false;
  }

  function stop(state) {
    connection.stopped = true;
    clearTimeout(connection.reconnectTimer);
    showState(state);
    page.onStop(indicator ? indicator.textContent : state);
  }

  function scheduleReconnect() {
    if (connection.stopped || connection.reconnectTimer) return;
    showState("reconnecting");
    var delay = Math.min(30000, 500 * Math.pow(2, connection.attempts));
    delay = delay / 2 + Math.random() * (delay / 2); // jitter: not every console at once
    connection.attempts += 1;
    connection.reconnectTimer = setTimeout(function () {
      connection.reconnectTimer = null;
      connect();
    }, delay);
  }

  function reconnectNow() {
    if (connection.stopped || connection.socket) return;
    clearTimeout(connection.reconnectTimer);
    connection.reconnectTimer = null;
    connect();
  }

  function isOpen() {
    return (
      connection.ready && connection.socket && connection.socket.readyState === WebSocket.OPEN
    );
  }

  function send(frame) {
    if (!isOpen()) return false;
    connection.socket.send(JSON.stringify(frame));
    return true;
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "ready":
        connection.ready = true;
        connection.everReady = true;
        connection.attempts = 0;
        if (!isFinite(connection.lastEventId)) connection.lastEventId = frame.last_event_id;
        showState("open");
        page.onReady(frame);
        break;
      case "event":
        if (typeof frame.id === "number") {
          if (frame.id <= connection.lastEventId) return; // seen already
          connection.lastEventId = frame.id;
          body.dataset.lastEventId = String(frame.id);
        }
        page.onEvent(frame);
        break;
      case "ping":
        send({ type: "pong" });
        break;
      case "typing":
        page.onTyping(frame);
        break;
      case "ack":
        page.onAck(frame);
        break;
      case "error":
        page.onError(frame);
        break;
      default:
        break;
    }
  }

  function conversationOf(frame) {
    var data = frame.data || {};
    return data.conversation && typeof data.conversation.id === "number"
      ? data.conversation
      : null;
  }

  // The inbox ----------------------------------------------------------------------

  function inboxPage() {
    var table = document.getElementById("inbox-table");
    var rows = document.getElementById("inbox-rows");
    var empty = document.getElementById("inbox-empty");
    if (!table || !rows) return;
    var query = table.dataset.rowsQuery || "";
    var liveInsert = table.dataset.liveInsert === "true";
    var hasMore = table.dataset.hasMore === "true";
    var loading = new Map(); // conversation id -> {again: bool}

    function rowOf(id) {
      return rows.querySelector('tr[data-conversation-id="' + id + '"]');
    }

    function showEmpty() {
      var none = !rows.querySelector("tr[data-conversation-id]");
      table.hidden = none;
      if (empty) empty.hidden = !none;
    }

    function flash(row) {
      row.classList.add("live-updated");
      setTimeout(function () {
        row.classList.remove("live-updated");
      }, 2000);
    }

    // One request per row at a time; a change during it asks once more afterwards,
    // so an older answer never overwrites a newer one.
    function refresh(id) {
      if (loading.has(id)) {
        loading.get(id).again = true;
        return;
      }
      var state = { again: false };
      loading.set(id, state);
      fetchFragment("/inbox/rows/" + id + (query ? "?" + query : ""))
        .then(function (result) {
          place(id, result);
        })
        .catch(function () {})
        .then(function () {
          loading.delete(id);
          if (state.again) refresh(id);
        });
    }

    function place(id, result) {
      var current = rowOf(id);
      if (result.status === 204 || result.status === 404) {
        if (current) current.remove(); // no longer in this view, or no longer visible
        showEmpty();
        return;
      }
      if (result.status !== 200) return;
      var fresh = templateOf(result.html).querySelector("tr[data-conversation-id]");
      if (!fresh || fresh.dataset.conversationId !== String(id)) return;
      if (current) {
        current.replaceWith(fresh);
        flash(fresh);
        return;
      }
      if (!liveInsert) return; // later pages only update the rows they show
      var before = null;
      var existing = rows.querySelectorAll("tr[data-conversation-id]");
      for (var i = 0; i < existing.length; i++) {
        if (Number(existing[i].dataset.conversationId) < id) {
          before = existing[i];
          break;
        }
      }
      if (!before && hasMore && existing.length) return; // it belongs on an older page
      rows.insertBefore(fresh, before);
      flash(fresh);
      showEmpty();
    }

    page.onEvent = function (frame) {
      var conversation = conversationOf(frame);
      if (conversation) refresh(conversation.id);
    };
  }

  // The conversation ---------------------------------------------------------------

  function conversationPage() {
    var thread = document.getElementById("thread");
    if (!thread) return;
    var conversationId = Number(thread.dataset.conversationId);
    var base = "/conversations/" + conversationId;
    var composer = document.getElementById("composer");
    var textarea = composer ? composer.querySelector("textarea[name=body]") : null;
    var internalBox = composer ? composer.querySelector("input[name=internal]") : null;
    var composerError = document.getElementById("composer-error");
    var typingIndicator = document.getElementById("typing-indicator");
    var collisionWarning = document.getElementById("collision-warning");
    var sending = new Map(); // client id -> {frame, item, acked}
    var loadingMessages = new Set();

    // Messages --------------------------------------------------------------------

    function messageItem(id) {
      return thread.querySelector('li[data-message-id="' + id + '"]');
    }

    function insertInOrder(item) {
      var id = Number(item.dataset.messageId);
      var stored = thread.querySelectorAll("li[data-message-id]");
      for (var i = 0; i < stored.length; i++) {
        if (Number(stored[i].dataset.messageId) > id) {
          thread.insertBefore(item, stored[i]);
          return;
        }
      }
      // After the stored messages, before replies still on their way.
      thread.insertBefore(item, thread.querySelector("li.pending"));
    }

    function showMessage(id, clientId, attempt) {
      if (messageItem(id)) {
        forget(clientId);
        return;
      }
      if (loadingMessages.has(id)) return;
      loadingMessages.add(id);
      fetchFragment(base + "/messages/" + id)
        .then(function (result) {
          if (result.status !== 200) {
            if (result.status >= 500 && (attempt || 0) < 3) retryLater();
            return;
          }
          var item = templateOf(result.html).querySelector("li[data-message-id]");
          if (!item || messageItem(id)) return;
          var key = item.dataset.clientId || clientId;
          var entry = key ? sending.get(key) : null;
          if (entry && entry.item.isConnected) {
            entry.item.replaceWith(item);
          } else {
            insertInOrder(item);
          }
          forget(key);
        })
        .catch(retryLater)
        .then(function () {
          loadingMessages.delete(id);
        });

      function retryLater() {
        setTimeout(function () {
          showMessage(id, clientId, (attempt || 0) + 1);
        }, 1000 * Math.pow(2, attempt || 0));
      }
    }

    function forget(clientId) {
      if (clientId) sending.delete(clientId);
    }

    // Replies over the socket -----------------------------------------------------

    function newClientId() {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      return (
        "console-" +
        Array.prototype.map
          .call(bytes, function (b) {
            return ("0" + b.toString(16)).slice(-2);
          })
          .join("")
      );
    }

    function pendingItem(frame) {
      var item = document.createElement("li");
      item.className = "message author-agent pending" + (frame.internal ? " internal" : "");
      item.dataset.clientId = frame.client_id;
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = text("sending");
      var content = document.createElement("div");
      content.className = "body";
      content.textContent = frame.body;
      item.appendChild(meta);
      item.appendChild(content);
      return item;
    }

    function showComposerError(message) {
      if (!composerError) return;
      composerError.textContent = message || "";
      composerError.hidden = !message;
    }

    if (composer && textarea) {
      composer.addEventListener("submit", function (event) {
        var frame = {
          type: "send",
          client_id: newClientId(),
          conversation_id: conversationId,
          body: textarea.value,
          internal: !!(internalBox && internalBox.checked),
        };
        // Without a socket, or for a text the socket would refuse, the form posts as before.
        if (!isOpen() || !frame.body.trim() || JSON.stringify(frame).length > MAX_FRAME_CHARS) {
          return;
        }
        event.preventDefault();
        var item = pendingItem(frame);
        thread.appendChild(item);
        sending.set(frame.client_id, { frame: frame, item: item, acked: false });
        send(frame);
        stopTyping();
        textarea.value = "";
        if (internalBox) internalBox.checked = false;
        showComposerError("");
      });

      window.addEventListener("beforeunload", function (event) {
        var unsent = false;
        sending.forEach(function (entry) {
          if (!entry.acked) unsent = true;
        });
        if (unsent) {
          event.preventDefault();
          event.returnValue = "";
        }
      });
    }

    page.onAck = function (frame) {
      var entry = sending.get(frame.client_id);
      if (!entry) return;
      entry.acked = true;
      showMessage(frame.message_id, frame.client_id);
    };

    function notSent(clientId, reason) {
      var entry = sending.get(clientId);
      if (!entry) return;
      sending.delete(clientId);
      entry.item.classList.remove("pending");
      entry.item.classList.add("failed");
      var meta = entry.item.querySelector(".meta");
      if (meta) meta.textContent = text("not_sent", { error: reason });
      if (textarea && !textarea.value) textarea.value = entry.frame.body; // not lost
      showComposerError(text("not_sent", { error: reason }));
    }

    page.onError = function (frame) {
      if (frame.client_id) notSent(frame.client_id, frame.error);
    };

    // No more reconnects (signed out): what was not acknowledged goes back to the composer.
    page.onStop = function (reason) {
      sending.forEach(function (entry, clientId) {
        if (!entry.acked) notSent(clientId, reason);
      });
    };

    // Typing, ours ------------------------------------------------------------------

    var typing = { active: false, internal: false, lastSent: 0, idleTimer: null };

    function sendTyping(active, internal) {
      send({
        type: "typing",
        conversation_id: conversationId,
        typing: active,
        internal: internal,
      });
      typing.active = active;
      typing.internal = internal;
      typing.lastSent = Date.now();
    }

    function stopTyping() {
      clearTimeout(typing.idleTimer);
      if (typing.active) sendTyping(false, typing.internal);
    }

    function noteTyping() {
      if (!isOpen()) return;
      var internal = !!(internalBox && internalBox.checked);
      if (typing.active && typing.internal !== internal) {
        // A public reply became a note (or back): tell the old audience it stopped.
        sendTyping(false, typing.internal);
      }
      if (
        !typing.active ||
        typing.internal !== internal ||
        Date.now() - typing.lastSent > TYPING_EVERY_MS
      ) {
        sendTyping(true, internal);
      }
      clearTimeout(typing.idleTimer);
      typing.idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
    }

    if (textarea) {
      textarea.addEventListener("input", noteTyping);
      textarea.addEventListener("blur", stopTyping);
    }
    if (internalBox) {
      internalBox.addEventListener("change", function () {
        if (typing.active) noteTyping();
      });
    }

    // Typing and viewing, theirs ----------------------------------------------------

    var customerTypingUntil = 0;
    var others = new Map(); // agent name -> {viewingUntil, replyingUntil}

    page.onTyping = function (frame) {
      if (frame.conversation_id !== conversationId) return;
      var now = Date.now();
      if (frame.who === "customer") {
        customerTypingUntil = frame.typing ? now + TYPING_EXPIRES_MS : 0;
      } else if (frame.who === "agent") {
        var name = frame.name || "?";
        var other = others.get(name) || { viewingUntil: 0, replyingUntil: 0 };
        var known = other.viewingUntil > now;
        if (frame.viewing === false) {
          other.viewingUntil = 0;
        } else {
          // An agent's typing frame about this conversation (typing or not) means they
          // have it open; "viewing" pings arrive this way too.
          other.viewingUntil = now + VIEWING_EXPIRES_MS;
        }
        other.replyingUntil = frame.typing ? now + TYPING_EXPIRES_MS : 0;
        others.set(name, other);
        if (!known && other.viewingUntil > now) announceViewingSoon(); // let them know of us
      }
      showOthers();
    };

    function showOthers() {
      var now = Date.now();
      var typingLines = [];
      var warnings = [];
      if (customerTypingUntil > now) typingLines.push(text("customer_typing"));
      others.forEach(function (other, name) {
        if (other.replyingUntil > now) {
          typingLines.push(text("agent_replying", { name: name }));
          warnings.push(text("also_replying", { name: name }));
        } else if (other.viewingUntil > now) {
          warnings.push(text("also_viewing", { name: name }));
        } else {
          others.delete(name);
        }
      });
      if (typingIndicator) {
        typingIndicator.textContent = typingLines.join(" · ");
        typingIndicator.hidden = !typingLines.length;
      }
      if (collisionWarning) {
        collisionWarning.textContent = warnings.length ? "⚠ " + warnings.join(" · ") : "";
        collisionWarning.hidden = !warnings.length;
      }
    }

    setInterval(showOthers, 1000);

    // Viewing, ours -----------------------------------------------------------------

    var lastAnnounced = 0;
    var announceTimer = null;

    function announceViewing() {
      lastAnnounced = Date.now();
      post(base + "/viewing", { viewing: "true", typing: String(typing.active) }).catch(
        function () {}
      );
    }

    function announceViewingSoon() {
      if (announceTimer) return;
      var wait = Math.max(0, 3000 - (Date.now() - lastAnnounced));
      announceTimer = setTimeout(function () {
        announceTimer = null;
        announceViewing();
      }, wait);
    }

    announceViewing();
    setInterval(announceViewing, VIEWING_EVERY_MS);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") announceViewingSoon();
    });
    window.addEventListener("pagehide", function () {
      stopTyping();
      if (navigator.sendBeacon) {
        var form = new FormData();
        form.append("csrf_token", csrfToken);
        form.append("viewing", "false");
        form.append("typing", "false");
        navigator.sendBeacon(base + "/viewing", form);
      }
    });

    // Status, priority, properties ---------------------------------------------------

    var stateLoading = false;
    var stateAgain = false;

    function refreshState() {
      if (stateLoading) {
        stateAgain = true;
        return;
      }
      stateLoading = true;
      fetchFragment(base + "/state")
        .then(function (result) {
          if (result.status === 200) swapState(templateOf(result.html));
        })
        .catch(function () {})
        .then(function () {
          stateLoading = false;
          if (stateAgain) {
            stateAgain = false;
            refreshState();
          }
        });
    }

    function swapState(fragment) {
      // A copy: moving an element into the page takes it out of the live list.
      Array.prototype.slice.call(fragment.children).forEach(function (fresh) {
        var current = fresh.id ? document.getElementById(fresh.id) : null;
        if (!current) return;
        if (fresh.id === "properties-panel" && beingEdited(current)) {
          var stale = current.querySelector("#properties-stale");
          if (stale) {
            stale.textContent = text("changed_elsewhere");
            stale.hidden = false;
          }
          return; // never throw away what the agent is changing
        }
        current.replaceWith(fresh);
      });
    }

    function beingEdited(panel) {
      var form = panel.querySelector("#properties");
      return !!form && (form.dataset.dirty === "true" || form.contains(document.activeElement));
    }

    ["input", "change"].forEach(function (kind) {
      document.addEventListener(kind, function (event) {
        var form = event.target.closest ? event.target.closest("#properties") : null;
        if (form) form.dataset.dirty = "true";
      });
    });

    function badgesDiffer(conversation) {
      var badges = document.getElementById("conversation-badges");
      return (
        !badges ||
        badges.dataset.status !== conversation.status ||
        badges.dataset.priority !== conversation.priority
      );
    }

    // Events ------------------------------------------------------------------------

    page.onEvent = function (frame) {
      var conversation = conversationOf(frame);
      if (!conversation || conversation.id !== conversationId) return;
      if (frame.kind === "message.created" && frame.data.message) {
        var message = frame.data.message;
        if (message.author_kind === "customer") customerTypingUntil = 0;
        showMessage(message.id, message.client_id || null);
        if (badgesDiffer(conversation)) refreshState();
      } else if (frame.kind === "conversation.updated") {
        refreshState();
      }
      // The assistant panel (web/suggestions.py) follows new questions and answers.
      var fresh = frame.data.message && frame.data.message.author_kind === "customer";
      if (frame.kind === "assistant.turn" || fresh) document.body.dispatchEvent(new Event("assistant-stale"));
      showOthers();
    };

    page.onReady = function () {
      // After a reconnect, send again what was not acknowledged: the client id makes
      // the server store each reply once, however often it arrives.
      sending.forEach(function (entry) {
        if (!entry.acked) send(entry.frame);
      });
      announceViewingSoon();
    };
  }

  // Start ----------------------------------------------------------------------------

  setUpPresence();
  if (body.dataset.live === "inbox") inboxPage();
  if (body.dataset.live === "conversation") conversationPage();
  if (body.dataset.live && "WebSocket" in window) {
    connect();
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") reconnectNow();
    });
  }
})();

// The assistant panel (web/suggestions.py): "Insert" puts the draft into the composer.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-insert-draft]") : null;
    if (!button) return;
    var draft = document.querySelector(button.getAttribute("data-insert-draft"));
    var composer = document.querySelector("#composer textarea[name=body]");
    if (!draft || !composer) return;
    composer.value = composer.value.trim() ? composer.value.replace(/\s+$/, "") + "\n\n" + draft.value : draft.value;
    composer.dispatchEvent(new Event("input", { bubbles: true }));
    composer.focus();
  });
})();
