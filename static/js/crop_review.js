// Crop review: keeps each frame's box drawing and its four number inputs in step, and lets
// staff drag a new box on the frame (in the frame's own pixel coordinates).
(function () {
  "use strict";
  const SIDES = ["left", "top", "right", "bottom"];

  function setup(svg) {
    const form = document.getElementById(svg.dataset.form);
    const rect = svg.querySelector("rect.crop-box");
    const inputs = SIDES.map((side) => form.elements[side]);

    function draw() {
      const [left, top, right, bottom] = inputs.map((input) => Number(input.value));
      rect.setAttribute("x", left);
      rect.setAttribute("y", top);
      rect.setAttribute("width", Math.max(0, right - left));
      rect.setAttribute("height", Math.max(0, bottom - top));
    }

    function framePoint(event) {
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(
        svg.getScreenCTM().inverse()
      );
      const box = svg.viewBox.baseVal;
      return [
        Math.round(Math.min(Math.max(point.x, 0), box.width)),
        Math.round(Math.min(Math.max(point.y, 0), box.height)),
      ];
    }

    let start = null;
    svg.addEventListener("pointerdown", (event) => {
      start = framePoint(event);
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener("pointermove", (event) => {
      if (!start) return;
      const end = framePoint(event);
      const values = [
        Math.min(start[0], end[0]), Math.min(start[1], end[1]),
        Math.max(start[0], end[0]), Math.max(start[1], end[1]),
      ];
      inputs.forEach((input, index) => { input.value = values[index]; });
      draw();
    });
    svg.addEventListener("pointerup", () => { start = null; });
    inputs.forEach((input) => input.addEventListener("input", draw));
    draw();
  }

  document.querySelectorAll("svg.crop-before").forEach(setup);
})();
