// The replay's slider: htmx swaps in the panel of the version chosen (hx-get on the range
// input and on the event list's links); this script keeps the rest of the page in step with
// the panel shown: the slider's position and its spoken text (aria-valuetext), the visible
// position line, the compare form's kept version; and keeps the keyboard's focus when a link
// inside the old panel was used. Without scripts the forms' buttons do the same by GET.
(function () {
  "use strict";

  function sync(panel, moveFocus) {
    var slider = document.getElementById("replay-version");
    var position = document.getElementById("replay-position");
    var version = panel.getAttribute("data-version");
    var text = panel.getAttribute("data-valuetext");
    if (slider && version) {
      if (slider.value !== version) { slider.value = version; }
      slider.setAttribute("aria-valuetext", text || version);
    }
    if (position && text !== null) { position.textContent = text; }
    document.querySelectorAll('[data-replay-keep="version"]').forEach(function (kept) {
      kept.value = version;
    });
    if (moveFocus) {
      var heading = document.getElementById("replay-shown");
      if (heading) { heading.focus(); }
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var panel = document.getElementById("replay-panel");
    if (!panel) { return; }
    // A link of the old panel is gone with it: the focus goes to the new panel's heading.
    var trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
    sync(panel, Boolean(trigger) && !document.body.contains(trigger));
  });
})();
