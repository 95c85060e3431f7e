/* Site-wide behaviour without inline handlers (the Content-Security-Policy forbids inline scripts):
   a form with data-confirm asks its question first and is sent only when the user accepts. */
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
