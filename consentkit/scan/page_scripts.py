"""The JavaScript the scanner runs inside the pages it visits (kept apart from the Python
that drives the browser): hooks installed before any page script, and probes evaluated
once a page has settled.

* ``COOKIE_HOOK`` reports every ``document.cookie`` write with the URL of the script that
  made it, so a cookie can be blamed on a third party;
* ``GPC_HOOK`` makes ``navigator.globalPrivacyControl`` true, as ``Sec-GPC: 1`` is sent;
* ``CANDIDATES`` lists visible buttons that may belong to a consent banner, tagged so the
  scanner can click the one whose accessible name matches;
* ``STORAGE`` lists the keys in local and session storage.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CANDIDATES", "COOKIE_HOOK", "GPC_HOOK", "STORAGE"]

# Reports every document.cookie write with the URL of the script that made it (the first
# http(s) frame of the stack below this setter).
COOKIE_HOOK: Final = """
(() => {
  const desc = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (!desc || !desc.set || !desc.get) return;
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true,
    enumerable: desc.enumerable,
    get() { return desc.get.call(this); },
    set(value) {
      try {
        const stack = String(new Error().stack || '');
        const found = stack.match(/https?:\\/\\/[^\\s()]+?(?=:\\d+:\\d+)/);
        const report = window.__consentkitScanCookie;
        if (typeof report === 'function') report(String(value), found ? found[0] : '');
      } catch (e) {}
      return desc.set.call(this, value);
    },
  });
})();
"""
GPC_HOOK: Final = """
Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {
  configurable: true, get() { return true; },
});
"""
# Visible candidate buttons, tagged so Python can click the one whose name matches.
CANDIDATES: Final = """
(limit) => {
  const scope = '[id*=cookie i],[class*=cookie i],[id*=consent i],[class*=consent i],' +
    '[aria-label*=cookie i],[aria-label*=consent i],[id*=gdpr i],[class*=gdpr i]';
  const out = [];
  const els = document.querySelectorAll(
    'button,[role=button],input[type=button],input[type=submit],a');
  for (const el of els) {
    if (out.length >= limit) break;
    if (el.tagName === 'A' && !el.hasAttribute('role') && !el.closest(scope)) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === 'hidden' || style.display === 'none')
      continue;
    let name = el.getAttribute('aria-label') || '';
    const by = el.getAttribute('aria-labelledby');
    if (!name && by) name = by.split(/\\s+/).map(id => {
      const t = document.getElementById(id); return t ? t.textContent : '';
    }).join(' ');
    if (!name) name = el.innerText || el.value || '';
    const id = String(out.length);
    el.setAttribute('data-consentkit-scan', id);
    out.push([id, name.slice(0, 200)]);
  }
  return out;
}
"""
STORAGE: Final = """
() => {
  const keys = (area) => { try { return Object.keys(window[area]); } catch (e) { return []; } };
  return {origin: location.origin, local: keys('localStorage'), session: keys('sessionStorage'),
          gpc: navigator.globalPrivacyControl === true};
}
"""
