/* The upload page and an upload's job page, without inline scripts (the Content-Security-Policy forbids them).

   The form is sent by XMLHttpRequest, its bar showing the bytes sent; the server answers at once with the
   job's page (202, JSON), where the check runs in a worker. That page asks /upload/<token>/status.json
   twice a second and shows the step (in the page's language) and the percent, then reloads itself for the
   report once the job has finished. Texts from the server are set as text, never as HTML. */
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (form && window.XMLHttpRequest && window.FormData) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var bar = document.getElementById("upload-progress"), state = document.getElementById("upload-state");
      var xhr = new XMLHttpRequest();
      bar.hidden = false;
      bar.value = 0;
      state.textContent = "";
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) { bar.value = 100 * e.loaded / e.total; } };
      xhr.upload.onload = function () { bar.removeAttribute("value"); state.textContent = form.dataset.sending; };
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status === 202 && body && body.job) { window.location.assign(body.job); return; }
        bar.hidden = true;
        var english = document.documentElement.lang === "en";
        state.textContent = body ? (english ? body.description : (body.description_zh || body.description))
                                 : "HTTP " + xhr.status;
        state.className = "error";
      };
      xhr.onerror = function () { bar.hidden = true; state.textContent = form.dataset.networkError; };
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.send(new FormData(form));
    });
  }

  var job = document.getElementById("job");
  if (job) {
    var progress = document.getElementById("job-progress"), step = document.getElementById("job-step");
    var percent = document.getElementById("job-percent");
    var poll = function () {
      fetch(job.dataset.status, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          progress.value = s.percent;
          percent.textContent = s.percent + " %";
          step.textContent = s.label;
          job.dataset.state = s.state;
          job.dataset.step = s.step;
          if (s.finished) { window.location.replace(s.url); } else { window.setTimeout(poll, 500); }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 300);
  }
})();
