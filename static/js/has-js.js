// Marks the page as scripted before the first paint (base.html loads it in <head>, not deferred).
document.documentElement.classList.add("js");
