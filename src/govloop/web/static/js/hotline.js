/* govloop: hotline intake — apply the routing suggestion; fetch knowledge-base answers while typing. */
(function () {
  "use strict";
  var form = document.querySelector("[data-intake-form]");
  if (!form) { return; }
  var text = form.querySelector("[data-kb-suggest]");
  var target = form.querySelector("[data-kb-target]");
  var timer = null;

  form.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-apply-suggestion]");
    if (!button) { return; }
    var box = button.closest("[data-suggested-category]");
    var select = form.querySelector("[data-category-select]");
    if (box && select) { select.value = box.getAttribute("data-suggested-category"); }
  });

  if (text && target && window.htmx) {
    text.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = text.value.trim();
        if (q.length < 2) { target.innerHTML = ""; return; }
        window.htmx.ajax("GET", target.getAttribute("data-kb-url") + "?q=" + encodeURIComponent(q.slice(0, 300)), { target: target, swap: "innerHTML" });
      }, 400);
    });
  }
})();
