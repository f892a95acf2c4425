// The round page, layered on a form that works without JavaScript (all panels in a list, radios,
// submit). With it: each image is revealed only once decoded, so response times start when the
// image is really on screen; an exposure limit hides it on time and measures how long it was
// shown; R / S shortcuts (or digits on a rating scale) that can be switched off; one image at a
// time in the "single" layout, one pair at a time in the "pair" layout (2AFC), where a click or
// tap on an image chooses it as real.
(function () {
  "use strict";
  const form = document.getElementById("round-form");
  if (!form) return;

  const limit = form.dataset.exposureMs ? Number(form.dataset.exposureMs) : null;
  const pair = form.dataset.layout === "pair";
  const single = form.dataset.layout === "single" || pair; // one panel (or one pair) at a time
  // A timed round drawn again (a reload) keeps its images hidden: they were shown once.
  const alreadyShown = "alreadyShown" in form.dataset;
  // The server refuses a display time above the limit plus this slack (EXPOSURE_SLACK_MS in
  // quiz/studies/submission.py). A longer one means the page stopped drawing (a hidden tab, a stall), so
  // it is not a measurement of the limited display: it is sent as "not measured" instead.
  const SLACK_MS = 250;
  // A rating scale (1 certainly real … k certainly synthetic) answers with its digits, 0 for 10.
  const points = form.dataset.ratingPoints ? Number(form.dataset.ratingPoints) : null;
  const KEYS = points ? {} : { r: "real", s: "synthetic" };
  for (let value = 1; points && value <= points; value++) KEYS[String(value % 10)] = String(value);
  const STORAGE_KEY = "quiz-shortcuts";

  const submit = document.getElementById("submit-round");
  const announcer = document.getElementById("announcer");
  // A "panel" is one trial: an image with its two answers, or side by side a pair of images. Its
  // response time and display time are written into each of its images' fields.
  const panels = Array.from(form.querySelectorAll(".panel")).map(function (li) {
    const radio = li.querySelector("input[type=radio]");
    return {
      li: li,
      fieldset: li.querySelector("fieldset"),
      frames: Array.from(li.querySelectorAll(".frame")),
      imgs: Array.from(li.querySelectorAll("img")),
      letter: pair ? li.querySelector("legend").textContent.split(":")[0] : radio.dataset.letter,
      times: Array.from(li.querySelectorAll("input[name^='time-']")),
      shows: Array.from(li.querySelectorAll("input[name^='shown-']")),
      revealedAt: null,
    };
  });

  function answered(panel) {
    return panel.fieldset.querySelector("input[type=radio]:checked") !== null;
  }

  function panelOf(element) {
    return panels.find(function (panel) {
      return panel.li.contains(element);
    });
  }

  // Shows the group's images together on one frame, once all are decoded (a half-loaded image
  // must not count as shown). Under an exposure limit they are hidden together on the first frame
  // at or after the limit, or on the frame after their panel was put away (single layout), and
  // the time between those two frames is what the participant saw.
  function reveal(group) {
    const decoded = [];
    group.forEach(function (panel) {
      panel.imgs.forEach(function (img) {
        decoded.push(img.decode().catch(function () {})); // a broken image is shown broken
      });
    });
    Promise.all(decoded).then(function () {
      requestAnimationFrame(function (start) {
        group.forEach(function (panel) {
          panel.frames.forEach(function (frame) {
            if (!alreadyShown) frame.classList.add("shown");
          });
          panel.revealedAt = start;
        });
        if (limit !== null && !alreadyShown) requestAnimationFrame(watch);
        function watch(now) {
          const elapsed = now - start;
          if (elapsed < limit && !group[0].li.hidden) {
            requestAnimationFrame(watch);
            return;
          }
          group.forEach(function (panel) {
            panel.frames.forEach(function (frame) {
              frame.classList.remove("shown");
            });
            panel.shows.forEach(function (shown) {
              shown.value = elapsed <= limit + SLACK_MS ? Math.round(elapsed) : "";
            });
          });
        }
      });
    });
  }

  // --- Answers: response time, announcement, and what comes next -----------------------------

  form.addEventListener("change", function (event) {
    const panel = panelOf(event.target);
    if (!panel || event.target.type !== "radio") return;
    if (panel.revealedAt !== null) {
      const elapsed = Math.round(performance.now() - panel.revealedAt);
      panel.times.forEach(function (time) {
        time.value = elapsed;
      });
    }
    // A scale point's full name ("3 of 6, leaning real") is in its visually hidden span.
    const label = event.target.closest("label");
    const name = label.querySelector(".visually-hidden") || label;
    announcer.textContent = panel.letter + ": " + name.textContent.trim();
  });

  function answerWith(panel, value) {
    const radio = panel.fieldset.querySelector('input[type=radio][value="' + value + '"]');
    radio.click(); // fires "change" like a real choice does
    if (single) advance();
    else focusNextUnanswered(panel);
  }

  function focusNextUnanswered(from) {
    const start = panels.indexOf(from);
    for (let step = 1; step <= panels.length; step++) {
      const panel = panels[(start + step) % panels.length];
      if (!answered(panel)) {
        panel.fieldset.focus();
        return;
      }
    }
    submit.focus();
  }

  // --- Keyboard: R / S (or a digit) on the focused panel, arrows between panels ----------------

  const shortcutsBox = document.getElementById("shortcuts");
  const toggle = document.getElementById("shortcuts-toggle");
  // Side by side the answer is a click on an image: the R / S shortcuts have no meaning there.
  shortcutsBox.hidden = pair;
  toggle.checked = stored() !== "off";
  toggle.addEventListener("change", function () {
    try {
      localStorage.setItem(STORAGE_KEY, toggle.checked ? "on" : "off");
    } catch (error) {
      // storage disabled (private mode): the switch still works for this page
    }
  });

  function stored() {
    try {
      return localStorage.getItem(STORAGE_KEY);
    } catch (error) {
      return null;
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return; // never take Ctrl+R and the like
    const panel = panelOf(document.activeElement);
    if (!panel) return;
    const value = pair ? null : KEYS[(event.key || "").toLowerCase()];
    if (value) {
      // Not before the image is on screen (an answer to a grey square measures nothing), and not
      // from a held-down key, which would answer one panel after another.
      if (!toggle.checked || panel.revealedAt === null || event.repeat) return;
      event.preventDefault();
      answerWith(panel, value);
      return;
    }
    // On a radio the arrows keep their own meaning (choosing within the panel).
    if (single || document.activeElement !== panel.fieldset) return;
    const moves = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = panels[panels.indexOf(panel) + moves[event.key]];
    if (next) next.fieldset.focus();
  });

  // --- Layouts ---------------------------------------------------------------------------------

  if (!single) {
    reveal(panels);
    return;
  }

  // One at a time: the current panel alone is shown. A pointer click on a choice or R / S answers
  // and moves on; "Next image" (or Enter) moves on after choosing with the radios' own arrow keys,
  // which must not skip ahead on every arrow press.
  const progress = document.getElementById("panel-progress");
  const nextButton = document.getElementById("next-panel");
  const done = document.getElementById("single-done");
  let current = null;

  function show(panel) {
    current = panel;
    panels.forEach(function (other) {
      other.li.hidden = other !== panel;
    });
    progress.hidden = false;
    progress.textContent =
      (pair ? "Pair " : "Image ") + (panels.indexOf(panel) + 1) + " of " + panels.length;
    nextButton.hidden = false;
    nextButton.disabled = !answered(panel);
    panel.fieldset.focus();
    if (panel.revealedAt === null) reveal([panel]);
  }

  function advance() {
    const start = panels.indexOf(current);
    const next = panels.slice(start + 1).concat(panels.slice(0, start)).find(function (panel) {
      return !answered(panel);
    });
    if (next) {
      show(next);
      return;
    }
    current = null;
    panels.forEach(function (panel) {
      panel.li.hidden = true;
    });
    progress.hidden = true;
    nextButton.hidden = true;
    done.hidden = false;
    submit.hidden = false;
    submit.focus();
  }

  let advancing = false;
  form.addEventListener("click", function (event) {
    if (!current) return;
    if (pair) {
      // A pointer click on an image or its label chooses it; the label's click then reaches the
      // radio, so the move waits until the radio is checked, and happens once.
      if (!event.target.closest(".pair-choice") || event.detail === 0 || advancing) return;
      advancing = true;
      setTimeout(function () {
        advancing = false;
        nextButton.disabled = !answered(current);
        if (answered(current)) advance();
      }, 0);
      return;
    }
    if (event.target.type !== "radio") return;
    nextButton.disabled = false;
    if (event.detail > 0) advance(); // a mouse or touch click, not an arrow key
  });
  form.addEventListener("change", function () {
    if (current) nextButton.disabled = !answered(current); // a choice made with the keyboard
  });
  nextButton.addEventListener("click", function () {
    if (current && answered(current)) advance();
  });
  form.addEventListener("submit", function (event) {
    if (current === null) return;
    event.preventDefault(); // Enter on a radio: next image, not a half-answered submission
    if (answered(current)) advance();
  });

  submit.hidden = true;
  const first = panels.find(function (panel) {
    return !answered(panel);
  });
  if (first) show(first);
  else advance();
})();
