/* govloop knowledge base: answers suggested while someone types, and "use this answer".
 *
 * An input or textarea with data-kb-suggest="#box" asks /hotline/kb/suggest (or the URL
 * in data-kb-url) 300 ms after typing stops and shows the answers in #box. Optional:
 * data-kb-fill="#answer" names the textarea a "use this answer" button fills, and
 * data-kb-category="CODE" limits the answers to a category. A bare data-kb-suggest (no
 * box) is left to the page's own script. The button fills the textarea (or, with none,
 * copies the answer), sets any [data-kb-article-id] field and records the use.
 */
(function () {
  "use strict";

  function wire(root) {
    if (!root || !root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-kb-suggest]"));
    if (root.matches && root.matches("[data-kb-suggest]")) found.push(root);
    found.forEach(function (el) {
      var box = el.getAttribute("data-kb-suggest");
      if (!box || el.hasAttribute("hx-get")) return;
      el.setAttribute("hx-get", el.getAttribute("data-kb-url") || "/hotline/kb/suggest");
      el.setAttribute("hx-trigger", "keyup changed delay:300ms, search");
      el.setAttribute("hx-target", box);
      el.setAttribute("hx-swap", "innerHTML");
      if (window.htmx) window.htmx.process(el);
    });
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    var el = evt.detail.elt;
    if (!el || !el.getAttribute || !el.getAttribute("data-kb-suggest")) return;
    var params = { q: (el.value || "").trim().slice(0, 200) };
    if (el.getAttribute("data-kb-fill")) params.target = el.getAttribute("data-kb-fill");
    if (el.getAttribute("data-kb-category")) params.category = el.getAttribute("data-kb-category");
    evt.detail.parameters = params;
  });

  function recordUse(id) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (!window.fetch) return;
    window.fetch("/api/v1/hotline/kb/articles/" + encodeURIComponent(id) + "/use", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": meta ? meta.getAttribute("content") : "" },
    }).catch(function () { /* counting a use is best effort */ });
  }

  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-kb-use]");
    if (!button) return;
    var id = button.getAttribute("data-kb-use");
    var answer = button.getAttribute("data-kb-answer") || "";
    var list = button.closest("[data-kb-suggestions]");
    var selector = list && list.getAttribute("data-kb-fill");
    var field = (selector && document.querySelector(selector)) || document.querySelector("[data-kb-answer-field]");
    if (field) {
      field.value = answer;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.focus();
      button.textContent = button.getAttribute("data-kb-used-label") || button.textContent;
    } else if (navigator.clipboard) {
      navigator.clipboard.writeText(answer).then(function () {
        button.textContent = button.getAttribute("data-kb-copied-label") || button.textContent;
      });
    }
    document.querySelectorAll("[data-kb-article-id]").forEach(function (input) { input.value = id; });
    recordUse(id);
  });

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:load", function (evt) { wire(evt.detail.elt); });
})();
