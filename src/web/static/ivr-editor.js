// The IVR editor's few lines of script: the gutter follows the text (line
// count, scrolling), and a diagnostic's `line:col` link puts the cursor on
// its line; on a page with problems the cursor starts at the first.
// A file rather than an inline <script>, so the console's
// Content-Security-Policy can refuse every inline script.
(function () {
  "use strict";
  var text = document.getElementById("script");
  var gutter = document.getElementById("gutter");
  if (!text || !gutter) return;
  var bad = (gutter.dataset.bad || "").split(",").filter(Boolean);
  var shown = text.value.split("\n").length;
  function renumber() {
    var count = text.value.split("\n").length;
    if (count === shown) return;
    shown = count;
    var html = [];
    for (var i = 1; i <= count; i++) {
      html.push(bad.indexOf(String(i)) >= 0 ? '<span class="bad" id="L' + i + '">' + i + "</span>" : String(i));
    }
    gutter.innerHTML = html.join("\n") + "\n";
    gutter.scrollTop = text.scrollTop;
  }
  function goToLine(line) {
    var value = text.value, start = 0;
    for (var i = 1; i < line; i++) {
      var next = value.indexOf("\n", start);
      if (next < 0) break;
      start = next + 1;
    }
    var end = value.indexOf("\n", start);
    if (end < 0) end = value.length;
    text.focus();
    text.setSelectionRange(start, end);
    var height = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (line - 4) * height);
    gutter.scrollTop = text.scrollTop;
  }
  text.addEventListener("input", renumber);
  text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
  document.querySelectorAll("a.goto-line").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      goToLine(Number(link.dataset.line));
    });
  });
  var first = document.querySelector("a.goto-line");
  if (first) goToLine(Number(first.dataset.line));
})();
