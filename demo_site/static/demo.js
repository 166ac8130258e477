// Keeps the "Consent:" line current when the visitor chooses without a reload,
// using consentkit's page API (the consentkit:change event).
document.addEventListener("consentkit:change", function (event) {
  var out = document.querySelector("[data-demo-granted]");
  if (out && event.detail && event.detail.granted) {
    out.textContent = event.detail.granted.slice().sort().join(", ");
  }
});
