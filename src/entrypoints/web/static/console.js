// The console's own script: htmx requests carry the session's CSRF token (forms also carry it
// as a field, so every page works without scripts).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
});
