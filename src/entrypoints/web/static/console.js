// The console's own script: htmx requests carry the session's CSRF token (forms also carry it
// as a field, so every page works without scripts).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content"); }
});

// A refused form: the keyboard's focus goes to the field the refusal names, else to the
// refusal itself (a screen reader reads it; Tab goes on into the form), not left on <body>.
function focusRefusal() {
  var refusal = document.querySelector("[data-refusal]");
  if (!refusal) { return; }
  var form = refusal.closest("form");
  var invalid = form ? form.querySelector('[aria-invalid="true"]') : null;
  var details = refusal.closest("details");
  if (details) { details.open = true; }
  (invalid || refusal).focus();
}
// On `load`: the browser's move to the address's fragment (`#step-…`) comes before it and
// would take the focus back to <body>.
if (document.readyState === "complete") {
  focusRefusal();
} else {
  window.addEventListener("load", focusRefusal);
}

// The indicators' period picker: only the fields of the kind of period chosen are shown
// (and sent); without scripts every field stays and the kind says which one counts.
function pickerFields() {
  var kind = document.querySelector("#period-picker #period");
  if (!kind) { return; }
  var show = function () {
    document.querySelectorAll("#period-picker [data-period]").forEach(function (box) {
      var chosen = box.getAttribute("data-period") === kind.value;
      box.hidden = !chosen;
      box.querySelectorAll("input").forEach(function (input) { input.disabled = !chosen; });
    });
  };
  kind.addEventListener("change", show);
  show();
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", pickerFields);
} else {
  pickerFields();
}
