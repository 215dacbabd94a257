/* govloop appointments: show the slots as soon as a service and a day are chosen. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (!form) return;
  form.addEventListener("change", function () {
    var item = form.querySelector("[name=item]");
    var day = form.querySelector("[name=day]:checked");
    if (item && item.value && day) form.submit();
  });
})();
