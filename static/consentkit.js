/*
 * consentkit: progressive enhancement of the server-rendered consent banner.
 * Every control is a working HTML form; this script posts them with fetch instead,
 * runs newly allowed items in place and manages the preferences dialog.
 *
 * Focus: the first layer is not focused on load (that would move screen-reader users
 * away from where they are); it is moved to the start of <body> so Tab reaches it
 * first. The preferences dialog is modal: focus goes to its title, Tab is kept
 * inside, Escape closes it and focus returns to the control that opened it.
 */
(function () {
  "use strict";
  var root = document.getElementById("ck-root");
  if (!root || root.getAttribute("data-ck-ready")) return;
  root.setAttribute("data-ck-ready", "1");

  var OPTIONAL = ["performance", "functionality", "targeting"];
  var SIGNALS = {
    necessary: ["security_storage"],
    performance: ["analytics_storage"],
    functionality: ["functionality_storage", "personalization_storage"],
    targeting: ["ad_storage", "ad_user_data", "ad_personalization"]
  };
  var ANNOUNCE = {
    accept_all: "announce_accepted",
    reject_all: "announce_rejected",
    save: "announce_saved",
    withdraw: "announce_withdrawn"
  };
  var JS_TYPE = /^(module|(text|application)\/(x-)?(java|ecma)script)$/i;
  var prefix = root.getAttribute("data-ck-prefix") || "/_consent";
  var texts = parse(root.getAttribute("data-ck-texts")) || {};
  var decision = parse(root.getAttribute("data-ck-decision")) || { granted: ["necessary"] };
  var banner = root.querySelector("[data-ck-banner]");
  // The dialog the preferences centre is fetched into (pages carry none of it).
  var prefs = root.querySelector("[data-ck-prefs]");
  if (!prefs) {
    prefs = document.createElement("dialog");
    prefs.className = "ck-prefs";
    prefs.id = "ck-prefs";
    prefs.setAttribute("aria-labelledby", "ck-prefs-title");
    prefs.setAttribute("data-ck-prefs", "");
    root.insertBefore(prefs, root.querySelector("[data-ck-settings]"));
  }
  var settings = root.querySelector("[data-ck-settings]");
  // A decided visitor's page has no live region: one is added now, long before it speaks.
  var live = root.querySelector("[data-ck-live]");
  if (!live) {
    live = document.createElement("div");
    live.className = "ck-sr";
    live.setAttribute("role", "status");
    live.setAttribute("aria-live", "polite");
    live.setAttribute("data-ck-live", "");
    root.insertBefore(live, root.firstChild);
  }
  var ownScript = document.currentScript;
  // The server marks what it blocked in this response with a fresh key, given in the
  // element right after this script. Only elements carrying it are ever activated:
  // markup a page reflects from its visitors cannot know it.
  var keyHolder = ownScript && ownScript.nextElementSibling;
  var blockKey = (keyHolder && keyHolder.getAttribute("data-ck-key")) || "";
  var listeners = [];
  var opener = null;

  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }
  function has(list, item) {
    return (list || []).indexOf(item) >= 0;
  }
  function each(list, fn) {
    Array.prototype.forEach.call(list, fn);
  }
  function allows(category) {
    return category === "necessary" || has(decision.granted, category);
  }
  // The page lists services only when the categories alone do not answer for them;
  // otherwise every optional category is granted (all allowed) or none is.
  function allowsServiceIn(state, id) {
    var services = state.services;
    if (services && services.granted) return has(services.granted, id);
    return OPTIONAL.every(function (c) { return has(state.granted, c); });
  }
  function allowsService(id) {
    return allowsServiceIn(decision, id);
  }
  // A blocked element belonging to a service runs when that service is allowed, else
  // when its category is.
  function elementAllowed(el) {
    var service = el.getAttribute("data-ck-service");
    return service ? allowsService(service) : allows(el.getAttribute("data-ck-category"));
  }
  function grantedOptional() {
    return OPTIONAL.filter(allows);
  }
  function visible(el) {
    return !el.disabled && !el.closest("[hidden]") && el.getClientRects().length > 0;
  }

  /* -- the preferences dialog ------------------------------------------------------- */

  function canOpen() {
    return !!prefs && typeof prefs.showModal === "function";
  }
  function settingsButton() {
    return settings && !settings.hidden ? settings.querySelector("button") : null;
  }
  // The centre (switches, cookie tables) is not in the page: it is fetched on first
  // open from the same template as the full preferences page. It holds no script or
  // style, so a nonce-based CSP needs nothing more. On failure the plain page opens.
  function centreUrl(fragment) {
    var back = encodeURIComponent(location.pathname + location.search);
    return prefix + "/preferences?" + (fragment ? "fragment=1&" : "") + "return_to=" + back;
  }
  function loadPrefs() {
    if (prefs.firstElementChild) return Promise.resolve();
    var url = centreUrl(true);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (!doc.getElementById("ck-prefs-title")) throw new Error("bad answer");
        var more = parse((doc.querySelector("[data-ck-texts]") || root).getAttribute("data-ck-texts"));
        Object.keys(more || {}).forEach(function (key) {
          texts[key] = more[key];
        });
        each(Array.prototype.slice.call(doc.body.childNodes), function (node) {
          prefs.appendChild(document.adoptNode(node));
        });
      });
  }
  function openPrefs(from) {
    if (!canOpen()) return;
    opener = from || document.activeElement;
    if (!window.fetch || !window.DOMParser) {
      location.href = centreUrl(false);
      return;
    }
    loadPrefs().then(function () {
      sync();
      if (!prefs.open) prefs.showModal();
      var title = prefs.querySelector("[tabindex='-1']");
      if (title) title.focus();
    }, function () {
      location.href = centreUrl(false);
    });
  }
  function closePrefs() {
    if (prefs && prefs.open) prefs.close();
  }
  function focusables() {
    var all = prefs.querySelectorAll("a[href],button,input,select,textarea,summary");
    return Array.prototype.filter.call(all, visible);
  }
  if (prefs) {
    prefs.addEventListener("close", function () {
      var target = opener && document.contains(opener) && visible(opener) ? opener : settingsButton();
      opener = null;
      if (target) target.focus();
    });
    prefs.addEventListener("keydown", function (ev) {
      if (ev.key !== "Tab") return;
      var items = focusables();
      if (!items.length) return;
      var first = items[0];
      var last = items[items.length - 1];
      var active = document.activeElement;
      if (ev.shiftKey && (active === first || items.indexOf(active) < 0)) {
        last.focus();
        ev.preventDefault();
      } else if (!ev.shiftKey && active === last) {
        first.focus();
        ev.preventDefault();
      }
    });
  }

  /* -- state shown in the page --------------------------------------------------------- */

  function sync() {
    each(root.querySelectorAll("input[role=switch]:not(:disabled)"), function (input) {
      input.checked = input.name === "services" ? allowsService(input.value) : allows(input.value);
    });
    each(root.querySelectorAll("[data-ck-withdraw]"), function (el) {
      el.hidden = !decision.decided;
    });
  }
  function announce(message) {
    if (!live || !message) return;
    live.textContent = "";
    // A fresh text node after a tick is what screen readers reliably announce.
    setTimeout(function () {
      live.textContent = message;
    }, 60);
  }
  function updateConsentMode() {
    if (typeof window.gtag !== "function") return;
    var state = {};
    Object.keys(SIGNALS).forEach(function (category) {
      SIGNALS[category].forEach(function (signal) {
        state[signal] = allows(category) ? "granted" : "denied";
      });
    });
    window.gtag("consent", "update", state);
  }
  function notify() {
    listeners.slice().forEach(function (cb) {
      try {
        cb(decision);
      } catch (err) {
        setTimeout(function () {
          throw err;
        });
      }
    });
    document.dispatchEvent(new CustomEvent("consentkit:change", { detail: decision }));
  }

  /* -- running what was blocked --------------------------------------------------------- */

  function move(el, from, to) {
    var value = el.getAttribute(from);
    if (value === null) return;
    el.setAttribute(to, value);
    el.removeAttribute(from);
  }
  function enable(el) {
    move(el, "data-ck-src", "src");
    move(el, "data-ck-srcset", "srcset");
    move(el, "data-ck-href", "href");
    move(el, "data-ck-poster", "poster");
    move(el, "data-ck-data", "data");
    move(el, "data-ck-xlink:href", "href");
    move(el, "data-ck-srcdoc", "srcdoc");
    el.removeAttribute("data-ck-blocked");
    if (el.tagName === "STYLE") {
      // a style sheet is applied again only as a new element
      var sheet = el.cloneNode(true);
      var type = sheet.getAttribute("data-ck-type");
      sheet.removeAttribute("data-ck-type");
      if (type) sheet.setAttribute("type", type); else sheet.removeAttribute("type");
      el.parentNode.replaceChild(sheet, el);
      return;
    }
    if (el.tagName === "IFRAME") el.hidden = false;
    var before = el.previousElementSibling;
    if (before && before.hasAttribute("data-ck-placeholder")) before.parentNode.removeChild(before);
  }
  // Returns true when the next item must wait for this external script to load.
  function runScript(old, done) {
    var script = document.createElement("script");
    each(old.attributes, function (attr) {
      if (!/^(type|src|data-ck-(blocked|src|type))$/.test(attr.name)) {
        script.setAttribute(attr.name, attr.value);
      }
    });
    // Only the element's own nonce: lending ours would run markup the page never vouched for.
    script.nonce = old.nonce || "";
    var type = old.getAttribute("data-ck-type") || "";
    if (type) script.setAttribute("type", type);
    var src = old.getAttribute("data-ck-src");
    var wait = !!src && !old.hasAttribute("async") && (!type || JS_TYPE.test(type));
    if (src) {
      script.async = false;
      script.src = src;
    } else {
      script.text = old.text;
    }
    if (wait) {
      script.onload = script.onerror = function () {
        script.onload = script.onerror = null;
        done();
      };
    }
    old.parentNode.replaceChild(script, old);
    return wait;
  }
  function run(queue) {
    while (queue.length) {
      var el = queue.shift();
      if (!el.parentNode) continue;
      if (el.tagName === "SCRIPT") {
        if (runScript(el, function () { run(queue); })) return;
      } else {
        enable(el);
      }
    }
  }
  function activate() {
    if (!blockKey) return;
    var found = document.querySelectorAll("[data-ck-blocked]");
    run(Array.prototype.filter.call(found, function (el) {
      return el.getAttribute("data-ck-blocked") === blockKey && elementAllowed(el);
    }));
  }
  function expireCookie(name) {
    if (!/^[^\s=;,]+$/.test(name)) return;
    var host = location.hostname;
    var labels = host.split(".");
    var domains = ["", "; domain=" + host];
    for (var i = 1; i < labels.length - 1; i++) {
      domains.push("; domain=." + labels.slice(i).join("."));
    }
    var paths = [""];
    var path = "";
    location.pathname.split("/").forEach(function (segment, index) {
      if (index === 0) {
        paths.push("; path=/");
      } else if (segment) {
        path += "/" + segment;
        paths.push("; path=" + path, "; path=" + path + "/");
      }
    });
    var secure = location.protocol === "https:" ? "; secure" : "";
    domains.forEach(function (domain) {
      paths.forEach(function (p) {
        document.cookie = name + "=; max-age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT" + p + domain + secure;
      });
    });
  }

  /* -- talking to the server -------------------------------------------------------------- */

  function apply(data, action) {
    var before = decision;
    decision = data.decision;
    var revoked = (before.granted || []).filter(function (c) {
      return c !== "necessary" && !allows(c);
    });
    var revokedServices = ((decision.services || {}).refused || []).filter(function (id) {
      return allowsServiceIn(before, id);
    });
    (data.expire || []).forEach(expireCookie);
    updateConsentMode();
    if (banner) banner.hidden = true;
    if (settings) settings.hidden = false;
    var focusInBanner = banner && banner.contains(document.activeElement);
    closePrefs();
    sync();
    if (focusInBanner && settingsButton()) settingsButton().focus();
    var withdrawn = revoked.length || revokedServices.length;
    announce(texts[withdrawn ? "announce_withdrawn" : ANNOUNCE[action]]);
    notify();
    if (withdrawn) {
      // Scripts that already ran cannot be unloaded: start again without them.
      setTimeout(function () { location.reload(); }, 300);
      return;
    }
    activate();
  }
  function nativeSubmit(form, action) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "action";
    input.value = action;
    form.appendChild(input);
    form.setAttribute("data-ck-native", "1");
    HTMLFormElement.prototype.submit.call(form);
  }
  function decide(form, submitter) {
    var data = new FormData(form);
    var action = submitter && submitter.name === "action" ? submitter.value : data.get("action");
    var categories = data.getAll("categories");
    var add = form.getAttribute("data-ck-add");
    var remove = form.getAttribute("data-ck-remove");
    var addService = form.getAttribute("data-ck-add-service");
    var body = {
      action: action,
      categories: categories,
      services: data.getAll("services"),
      refused_services: data.getAll("refused_services"),
      shown_services: data.getAll("shown_services"),
      keep_choice: data.get("keep_choice") === "1",
      via: "banner"
    };
    if (action === "save" && addService) {
      // "Always allow YouTube": that service only, the rest of the choice kept.
      body.categories = [];
      body.services = [addService];
      body.refused_services = [];
      body.keep_choice = true;
    } else if (action === "save" && add) {
      body.categories = grantedOptional().concat(has(grantedOptional(), add) ? [] : [add]);
    } else if (action === "save" && remove) {
      body.categories = grantedOptional().filter(function (c) { return c !== remove; });
    }
    fetch(prefix, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (body) {
        if (!body || !body.decision || !body.decision.granted) throw new Error("bad answer");
        return body;
      })
      .then(function (body) {
        apply(body, action);
      }, function () {
        // The plain form still works: let the server answer with its 303.
        nativeSubmit(form, action);
      });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form || form.tagName !== "FORM" || form.hasAttribute("data-ck-native")) return;
    if (form.hasAttribute("data-ck-open")) {
      if (canOpen()) {
        ev.preventDefault();
        openPrefs(ev.submitter || form.querySelector("button"));
      }
    } else if (form.hasAttribute("data-ck-form") && window.fetch) {
      ev.preventDefault();
      decide(form, ev.submitter);
    }
  });
  // The category switch sets all of its services' switches.
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input || input.name !== "categories" || !input.form) return;
    each(input.form.querySelectorAll("input[data-ck-service-of]"), function (service) {
      if (service.getAttribute("data-ck-service-of") === input.value) {
        service.checked = input.checked;
      }
    });
  });
  document.addEventListener("click", function (ev) {
    var target = ev.target;
    if (!target || !target.closest) return;
    if (target.closest("[data-ck-close]")) {
      closePrefs();
      return;
    }
    var load = target.closest("[data-ck-load]");
    var holder = load && load.closest("[data-ck-placeholder]");
    var frame = holder && holder.nextElementSibling;
    if (frame && frame.hasAttribute("data-ck-blocked")) {
      // One-off: this frame only, nothing recorded.
      enable(frame);
      frame.focus();
    }
  });

  each(document.querySelectorAll("[data-ck-load]"), function (button) {
    button.hidden = false;
  });
  if (banner && !banner.hidden) document.body.insertBefore(root, document.body.firstChild);

  window.consentkit = {
    allows: allows,
    allowsService: allowsService,
    show: function () {
      if (!banner) {
        openPrefs();
        return;
      }
      banner.hidden = false;
      if (settings) settings.hidden = true;
      var first = banner.querySelector("button");
      if (first) first.focus();
    },
    showPreferences: function () {
      openPrefs();
    },
    onChange: function (cb) {
      listeners.push(cb);
      return function () {
        listeners = listeners.filter(function (x) { return x !== cb; });
      };
    },
    get decision() {
      return decision;
    }
  };
})();
