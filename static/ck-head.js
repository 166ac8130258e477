/* Google Consent Mode v2 defaults. Runs synchronously, first in <head>, before any tag. */
(function (script) {
  var defaults;
  try {
    defaults = JSON.parse(script.getAttribute("data-ck-defaults"));
  } catch (e) {
    defaults = null;
  }
  if (!defaults || typeof defaults !== "object") {
    // Unreadable defaults must not leave tags free to run: deny everything optional.
    defaults = {
      ad_storage: "denied", ad_user_data: "denied", ad_personalization: "denied",
      analytics_storage: "denied", functionality_storage: "denied",
      personalization_storage: "denied", security_storage: "granted", wait_for_update: 500
    };
  }
  window.dataLayer = window.dataLayer || [];
  if (typeof window.gtag !== "function") {
    window.gtag = function () {
      window.dataLayer.push(arguments);
    };
  }
  window.gtag("consent", "default", defaults);
})(document.currentScript);
