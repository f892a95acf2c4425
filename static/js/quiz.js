// Records, per panel, the milliseconds from the grid appearing to the participant's last choice.
(function () {
  "use strict";
  const shownAt = performance.now();
  const form = document.getElementById("round-form");
  if (!form) return;
  form.addEventListener("change", function (event) {
    const input = event.target;
    if (input.type !== "radio") return;
    const token = input.name.slice("panel-".length);
    form.elements["time-" + token].value = Math.round(performance.now() - shownAt);
  });
})();
