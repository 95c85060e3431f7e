/* Site-wide behaviour without inline handlers (the Content-Security-Policy forbids inline scripts):
   a form with data-confirm asks its question first and is sent only when the user accepts. */
document.addEventListener("submit", function (event) {
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
/* A button with data-print prints the page (the print stylesheet in site.css keeps the map and its legend). */
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-print]");
  if (button) { window.print(); }
});
