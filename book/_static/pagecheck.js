// Page self-check, read by the browser test (tests/test_browser.py): once the page and
// MathJax are done, the <html> element records how many images loaded, which did not,
// and how many formulas were typeset.
window.addEventListener("load", function () {
  var record = function () {
    var images = Array.from(document.images);
    var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
    var root = document.documentElement;
    root.setAttribute("data-check-images", String(images.length));
    root.setAttribute("data-check-broken", broken.map(function (i) { return i.getAttribute("src"); }).join(" "));
    root.setAttribute("data-check-math", String(document.querySelectorAll("mjx-container").length));
    root.setAttribute("data-check-done", "1");
  };
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(record, record);
  } else {
    record();
  }
});
