// The viewer of an untimed round: a click on a shown panel, or Enter / Space on a focused one,
// enlarges it to its viewer rendition (the study's images all rendered at one side, the largest
// at which none is upsampled: quiz/studies/panels.py). At zoom 1 it is shown at that natural size,
// or smaller where the window is smaller, never larger; zoom beyond is the participant's choice.
// Brightness and contrast are CSS filters on the displayed image only. How long the viewer was
// open on each panel is summed into the panel's viewer-<token> field and sent with the answers.
(function () {
  "use strict";
  const form = document.getElementById("round-form");
  const dialog = document.getElementById("viewer");
  if (!form || !dialog || !("viewer" in form.dataset)) return;

  const stage = document.getElementById("viewer-stage");
  // Made here, not in the page: the page's only <img> elements are its panels.
  const image = document.createElement("img");
  image.id = "viewer-image";
  image.draggable = false;
  stage.appendChild(image);
  const title = document.getElementById("viewer-title");
  const zoomLabel = document.getElementById("viewer-zoom");
  const brightness = document.getElementById("viewer-brightness");
  const contrast = document.getElementById("viewer-contrast");
  const ZOOMS = [1, 1.5, 2, 3, 4, 6, 8];
  const PAN_STEP = 40; // CSS px per arrow key press

  let panel = null; // the panel open in the viewer
  let openedAt = 0;
  let fit = 0; // the displayed side at zoom 1, in CSS px: min(natural side, room in the window)
  let zoom = 0; // index into ZOOMS
  let x = 0; // the image's offset in the stage (≤ 0), in CSS px
  let y = 0;

  function panelOf(element) {
    const li = element && element.closest && element.closest(".panel");
    if (!li || li.hidden) return null;
    const frame = li.querySelector(".frame");
    const img = frame.querySelector("img");
    // Not before the image is on screen: the viewer shows nothing the grid has not shown.
    if (!frame.classList.contains("shown") || !img.dataset.viewer) return null;
    const token = li.querySelector("input[type=radio]").name.slice("panel-".length);
    return {
      fieldset: li.querySelector("fieldset"),
      img: img,
      letter: li.querySelector("legend").textContent.trim(),
      field: form.elements["viewer-" + token],
    };
  }

  function open(target) {
    panel = target;
    title.textContent = "Panel " + panel.letter;
    zoom = 0;
    x = y = 0;
    fit = 0;
    stage.classList.remove("ready");
    image.removeAttribute("src");
    image.alt = "Panel " + panel.letter + ", enlarged";
    image.src = panel.img.dataset.viewer;
    dialog.showModal();
    openedAt = performance.now();
    image.decode().then(layout, function () {
      stage.classList.add("ready");
      title.textContent = "Panel " + panel.letter + ": the enlarged image could not be loaded";
    });
  }

  // The side at zoom 1: the natural side, unless the window has less room (then smaller).
  function layout() {
    if (!panel || !image.naturalWidth) return;
    const bar = dialog.querySelector(".viewer-bar").offsetHeight;
    const help = document.getElementById("viewer-help").offsetHeight;
    const style = getComputedStyle(dialog);
    const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
    const roomX = window.innerWidth - 32 - padX;
    const roomY = window.innerHeight - 32 - padY - bar - help - 16;
    fit = Math.max(64, Math.floor(Math.min(image.naturalWidth, roomX, roomY)));
    stage.style.width = fit + "px";
    stage.style.height = fit + "px";
    stage.classList.add("ready");
    draw();
  }

  function draw() {
    const side = fit * ZOOMS[zoom];
    x = Math.min(0, Math.max(fit - side, x));
    y = Math.min(0, Math.max(fit - side, y));
    image.style.width = side + "px";
    image.style.height = side + "px";
    image.style.transform = "translate(" + x + "px, " + y + "px)";
    image.style.filter = "brightness(" + brightness.value + "%) contrast(" + contrast.value + "%)";
    zoomLabel.textContent = Math.round(ZOOMS[zoom] * 100) + "%";
    stage.classList.toggle("zoomed", zoom > 0);
  }

  // Zooms by `step` levels, keeping the stage point (cx, cy) where it is.
  function zoomBy(step, cx, cy) {
    const next = Math.min(ZOOMS.length - 1, Math.max(0, zoom + step));
    if (next === zoom || !fit) return;
    const ratio = ZOOMS[next] / ZOOMS[zoom];
    if (cx === undefined) cx = cy = fit / 2;
    x = cx - (cx - x) * ratio;
    y = cy - (cy - y) * ratio;
    zoom = next;
    draw();
  }

  dialog.addEventListener("close", function () {
    if (!panel) return;
    const total = Number(panel.field.value || 0) + (performance.now() - openedAt);
    panel.field.value = Math.round(total);
    const back = panel.fieldset;
    panel = null;
    image.removeAttribute("src");
    back.focus();
  });

  form.addEventListener("click", function (event) {
    if (!event.target.closest(".frame")) return;
    const target = panelOf(event.target);
    if (target) open(target);
  });

  document.addEventListener("keydown", function (event) {
    if (dialog.open) {
      viewerKey(event);
      return;
    }
    if (event.key !== "Enter" && event.key !== " ") return;
    const fieldset = document.activeElement;
    if (!fieldset || fieldset.tagName !== "FIELDSET" || !form.contains(fieldset)) return;
    const target = panelOf(fieldset);
    if (!target) return;
    event.preventDefault(); // Space would scroll the page
    open(target);
  });

  function viewerKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const onSlider = event.target.type === "range"; // its arrows set the slider
    const moves = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (event.key === "+" || event.key === "=") zoomBy(1);
    else if (event.key === "-") zoomBy(-1);
    else if (event.key in moves && !onSlider) {
      x += moves[event.key][0] * PAN_STEP;
      y += moves[event.key][1] * PAN_STEP;
      draw();
    } else return;
    event.preventDefault();
  }

  document.getElementById("viewer-zoom-in").addEventListener("click", function () {
    zoomBy(1);
  });
  document.getElementById("viewer-zoom-out").addEventListener("click", function () {
    zoomBy(-1);
  });
  document.getElementById("viewer-close").addEventListener("click", function () {
    dialog.close();
  });
  document.getElementById("viewer-reset").addEventListener("click", function () {
    brightness.value = 100;
    contrast.value = 100;
    zoom = 0;
    x = y = 0;
    draw();
  });
  brightness.addEventListener("input", draw);
  contrast.addEventListener("input", draw);
  window.addEventListener("resize", layout);

  stage.addEventListener(
    "wheel",
    function (event) {
      event.preventDefault();
      const box = stage.getBoundingClientRect();
      zoomBy(event.deltaY < 0 ? 1 : -1, event.clientX - box.left, event.clientY - box.top);
    },
    { passive: false }
  );

  // Pan by dragging (mouse, pen or one finger).
  let drag = null;
  stage.addEventListener("pointerdown", function (event) {
    drag = { id: event.pointerId, x: event.clientX - x, y: event.clientY - y };
    stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener("pointermove", function (event) {
    if (!drag || drag.id !== event.pointerId) return;
    x = event.clientX - drag.x;
    y = event.clientY - drag.y;
    draw();
  });
  function endDrag() {
    drag = null;
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
})();
