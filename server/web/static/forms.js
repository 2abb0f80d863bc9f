/* A form's page saves each answer as it changes, so a phone that locks or a tab closed
   loses nothing. It posts the page's own form to its own address (the CSRF token
   included), saying so with X-Requested-With: the server saves that one answer and
   answers 204, or JSON with the reason it was not saved. The page is never replaced,
   and without this script every button still saves. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var status = document.getElementById("autosave-status");

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function questionOf(field) {
    var box = field.closest ? field.closest("[data-question]") : null;
    return box ? box.getAttribute("data-question") : null;
  }

  function save(question) {
    var data = new FormData(form);
    data.set("only", question);
    data.set("go", "autosave");
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (answer) {
      if (answer.status === 204) {
        say("Saved");
        return null;
      }
      if (answer.status === 401) {
        return answer.json().then(function (body) {
          say(body.message);
        });
      }
      var type = answer.headers.get("content-type") || "";
      if (type.indexOf("application/json") !== 0) {
        say("Not saved yet: your answers are saved when you press Save and continue.");
        return null;
      }
      return answer.json().then(function (body) {
        var refused = (body.refused || {})[question];
        say("Not saved yet: " + (refused || body.message));
      });
    }).catch(function () {
      say("Not saved yet (no connection): your answers are saved when you press Save and continue.");
    });
  }

  // "change" comes when a choice is ticked, and when a typed field is left changed.
  form.addEventListener("change", function (event) {
    var question = questionOf(event.target);
    if (question) {
      save(question);
    }
  });
}());
