/* The province page's date slider (issue 15): the map's lines and markers as of a day in legal time.
   The range counts days from the earliest legal date of the province's lines to today; moving it (or
   picking a date) reloads the dated layers through the OGC API's datetime (quhua.setDate); "current"
   returns to what is in force now. */
(function () {
  "use strict";
  var form = document.getElementById("as-of-form");
  if (!form) { return; }
  var range = document.getElementById("as-of-range"), picker = document.getElementById("as-of-date");
  var label = document.getElementById("as-of-label"), now = document.getElementById("as-of-now");
  var first = new Date(form.dataset.first + "T00:00:00Z"), timer = null;
  function dayOf(offset) {
    return new Date(first.getTime() + offset * 86400000).toISOString().slice(0, 10);
  }
  function offsetOf(day) {
    return Math.round((new Date(day + "T00:00:00Z").getTime() - first.getTime()) / 86400000);
  }
  function apply(day) {
    label.textContent = day || form.dataset.nowLabel;
    form.setAttribute("data-as-of", day || "");
    clearTimeout(timer);
    timer = setTimeout(function () { if (window.quhua && window.quhuaMap) { window.quhua.setDate(window.quhuaMap, day); } }, 250);
  }
  range.addEventListener("input", function () {
    var offset = Number(range.value), day = offset >= Number(range.max) ? "" : dayOf(offset);
    picker.value = day;
    apply(day);
  });
  picker.addEventListener("change", function () {
    if (!picker.value) { return; }
    range.value = String(Math.max(0, Math.min(Number(range.max), offsetOf(picker.value))));
    apply(picker.value);
  });
  /* What the map holds as of the day, once both dated layers have answered (the layer list's counts are
     today's figures, the page header's). */
  var counts = document.getElementById("as-of-counts"), container = document.querySelector("#province-map .folium-map");
  if (counts && container && window.MutationObserver) {
    new MutationObserver(function () {
      var day = form.getAttribute("data-as-of") || "";
      if (container.getAttribute("data-as-of-lines") === day && container.getAttribute("data-as-of-markers") === day) {
        counts.textContent = day ? counts.dataset.template.replace("{lines}", container.getAttribute("data-loaded-lines"))
          .replace("{markers}", container.getAttribute("data-loaded-markers")) : "";
      }
    }).observe(container, {attributes: true});
  }
  now.addEventListener("click", function () {
    range.value = range.max;
    picker.value = "";
    apply("");
  });
})();
