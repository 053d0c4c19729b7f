// Page self-check, read by the browser test (tests/test_browser.py): once the page and
// MathJax are done, the <html> element records
//   data-check-images    how many images the page has
//   data-check-broken    the src of each image that did not load (space-separated)
//   data-check-math      how many formulas MathJax typeset
//   data-check-width     "scrollWidth clientWidth" of the content column (article.bd-article):
//                        a scrollWidth above the clientWidth means something sticks out of it
//   data-check-page      "scrollWidth innerWidth" of the whole page (horizontal page scroll)
//   data-check-overflow  the outermost elements that stick out of the content column and do
//                        not scroll inside a wrapper of their own, and those that cut off
//                        their content ("; "-separated, each as tag.class#id, its width and
//                        how far it sticks out, or how much it clips)
//   data-check-progress  output blocks whose text looks like a progress bar ("; "-separated)
//   data-check-badges    each verdict badge as class=background-colour ("; "-separated)
//   data-check-done      1 when all of the above are set
window.addEventListener("load", function () {
  var describe = function (el) {
    var name = el.tagName.toLowerCase();
    if (el.classList.length) name += "." + Array.from(el.classList).slice(0, 3).join(".");
    if (el.id) name += "#" + el.id;
    return name;
  };
  // Elements that stick out of `column`, outermost first, and elements that cut off their own
  // content without a scroll bar (overflow hidden); what lies inside an element that scrolls
  // (overflow auto or scroll) is fine: it scrolls inside it.
  // The right edge of what `el` lays out: its in-flow descendants, a scrolling one counting as
  // its own box. Out-of-flow ones (position absolute or fixed: e.g. MathJax's visually hidden
  // MathML for screen readers) are left out.
  var reach = function (el) {
    var right = -Infinity;
    Array.from(el.children).forEach(function (child) {
      var style = getComputedStyle(child);
      if (style.display === "none" || style.position === "absolute" || style.position === "fixed") return;
      var r = child.getBoundingClientRect();
      if (r.width > 0) right = Math.max(right, r.right);
      if (style.overflowX === "visible") right = Math.max(right, reach(child));
    });
    return right;
  };
  var overflowing = function (column) {
    var box = column.getBoundingClientRect();
    var found = [];
    var walk = function (el) {
      Array.from(el.children).forEach(function (child) {
        var style = getComputedStyle(child);
        if (style.display === "none" || style.position === "fixed") return;
        var r = child.getBoundingClientRect();
        var out = Math.max(r.right - box.right, box.left - r.left);
        if (r.width > 0 && r.height > 0 && out > 1) {
          found.push(describe(child) + " " + Math.round(r.width) + "px, " + Math.round(out) + "px out");
          return;
        }
        if (style.overflowX === "visible") {
          walk(child);
        } else if (style.overflowX === "hidden" || style.overflowX === "clip") {
          var cut = Math.round(reach(child) - r.right);
          if (cut > 1) found.push(describe(child) + " cuts off " + cut + "px");  // no way to scroll to it
        }
      });
    };
    walk(column);
    return found;
  };
  var BAR = /\d%\||\|\s*\d+\/\d+\s*\[|(?:it\/s|s\/it)\]/;
  var record = function () {
    var root = document.documentElement;
    var images = Array.from(document.images);
    var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; });
    root.setAttribute("data-check-images", String(images.length));
    root.setAttribute("data-check-broken", broken.map(function (i) { return i.getAttribute("src"); }).join(" "));
    root.setAttribute("data-check-math", String(document.querySelectorAll("mjx-container").length));
    var column = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
    root.setAttribute("data-check-width", column.scrollWidth + " " + column.clientWidth);
    root.setAttribute("data-check-page", root.scrollWidth + " " + window.innerWidth);
    root.setAttribute("data-check-overflow", overflowing(column).join("; "));
    var bars = Array.from(document.querySelectorAll(".cell_output .output, .cell_output pre"))
      .filter(function (o) { return BAR.test(o.textContent); })
      .map(function (o) { return describe(o) + ": " + o.textContent.trim().slice(0, 80); });
    root.setAttribute("data-check-progress", bars.join("; "));
    var badges = Array.from(document.querySelectorAll("span.verdict")).map(function (b) {
      var kind = Array.from(b.classList).filter(function (c) { return c !== "verdict"; }).join(".");
      return kind + "=" + getComputedStyle(b).backgroundColor;
    });
    root.setAttribute("data-check-badges", badges.join("; "));
    root.setAttribute("data-check-done", "1");
  };
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(record, record);
  } else {
    record();
  }
});
