/* /names: search as you type (the Content-Security-Policy forbids inline scripts). Results are built as
   DOM nodes with their texts as text, never as HTML; the map shows them (quhua-map.js's showNames). */
(function () {
  "use strict";
  var box = document.getElementById("name-search"), list = document.getElementById("name-results");
  if (!box || !list) { return; }
  var timer = null, sequence = 0;
  function item(className, text) {
    var li = document.createElement("li");
    li.className = className;
    li.textContent = text;
    return li;
  }
  function span(className, text) {
    var s = document.createElement("span");
    s.className = className;
    s.textContent = text === null || text === undefined ? "–" : String(text);
    return s;
  }
  function render(results) {
    list.replaceChildren();
    if (!results.length) { list.appendChild(item("none", box.dataset.none)); }
    results.forEach(function (r) {
      var li = document.createElement("li"), a = document.createElement("a");
      a.href = box.dataset.names + "/" + encodeURIComponent(r.id);
      a.textContent = r.name;
      li.append(a, " ", span("pinyin", r.pinyin), " ", span("class", r["class"]), " ", span("code", r.code));
      list.appendChild(li);
    });
    window.quhua.showNames(results);
  }
  function search() {
    var mine = ++sequence, q = box.value.trim();
    if (!q) { list.replaceChildren(); return; }
    fetch(box.dataset.search + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        if (mine !== sequence) { return; }
        if (!res.ok) {
          var english = document.documentElement.lang === "en";
          list.replaceChildren(item("error", english ? res.body.description
                                                     : (res.body.description_zh || res.body.description)));
          return;
        }
        render(res.body.results);
      });
  }
  box.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 200); });
  if (box.value) { search(); }
})();
