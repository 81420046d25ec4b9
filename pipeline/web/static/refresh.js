// Keeps a list page's data current without a reload and without losing what the desk is
// typing. Every `data-refresh` seconds the page is fetched again and each element marked
// `data-region="NAME"` is replaced by its new version. A form field with something typed
// in it, or with the focus, is carried over into the new region (same form action, same
// field name), open "Cancel…" boxes stay open; when the new region has no such field
// (the row is gone), the old region is kept as it is, typed text and all. Served as a
// file: the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  var FIELDS = "input, textarea, select";

  function fieldKey(field) {
    var form = field.form;
    return (form ? form.getAttribute("action") || "" : "") + "|" + field.name;
  }

  function isTyped(field) {
    if (field.type === "hidden" || field.type === "submit" || field.type === "button") {
      return false;
    }
    if (field === document.activeElement) {
      return true;
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    return field.value !== field.defaultValue;
  }

  function find(root, selector, key, keyOf) {
    var found = null;
    root.querySelectorAll(selector).forEach(function (element) {
      if (found === null && keyOf(element) === key) {
        found = element;
      }
    });
    return found;
  }

  function detailsKey(details) {
    var form = details.querySelector("form");
    return form ? form.getAttribute("action") || "" : "";
  }

  // Moves what was typed in `region` into `fresh`; false when a typed field has no place.
  function carryOver(region, fresh) {
    var moves = [];
    var complete = true;
    region.querySelectorAll(FIELDS).forEach(function (field) {
      if (!isTyped(field)) {
        return;
      }
      var target = find(fresh, FIELDS, fieldKey(field), fieldKey);
      if (target === null) {
        complete = false;
      } else {
        moves.push([field, target]);
      }
    });
    if (!complete) {
      return null;
    }
    moves.forEach(function (move) {
      var field = move[0];
      var target = move[1];
      if (field.type === "checkbox" || field.type === "radio") {
        target.checked = field.checked;
      } else {
        target.value = field.value;
      }
      var box = target.closest("details");
      if (box) {
        box.open = true;
      }
    });
    region.querySelectorAll("details[open]").forEach(function (details) {
      var twin = find(fresh, "details", detailsKey(details), detailsKey);
      if (twin) {
        twin.open = true;
      }
    });
    var focused = moves.filter(function (move) {
      return move[0] === document.activeElement;
    })[0];
    return focused || [];
  }

  function replaceRegions(doc) {
    document.querySelectorAll("[data-region]").forEach(function (region) {
      var name = region.getAttribute("data-region");
      var incoming = doc.querySelector('[data-region="' + name + '"]');
      if (incoming === null) {
        return;
      }
      var fresh = document.importNode(incoming, true);
      var focused = carryOver(region, fresh);
      if (focused === null) {
        return; // keep the old region: what is typed there has nowhere to go
      }
      var selection = null;
      if (focused.length === 2 && typeof focused[0].selectionStart === "number") {
        selection = [focused[0].selectionStart, focused[0].selectionEnd];
      }
      region.replaceWith(fresh);
      if (focused.length === 2) {
        focused[1].focus();
        if (selection !== null) {
          focused[1].setSelectionRange(selection[0], selection[1]);
        }
      }
    });
  }

  function start(main) {
    var seconds = parseInt(main.getAttribute("data-refresh"), 10);
    if (!(seconds > 0)) {
      return;
    }
    var stale = document.querySelector(".refreshed .stale");
    function refresh() {
      window
        .fetch(window.location.href, {
          credentials: "same-origin",
          cache: "no-store",
          headers: { "X-Intake-Refresh": "1" },
        })
        .then(function (response) {
          if (!response.ok || response.redirected) {
            throw new Error("status " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          replaceRegions(new DOMParser().parseFromString(html, "text/html"));
          if (stale) {
            stale.hidden = true;
          }
        })
        .catch(function () {
          if (stale) {
            stale.hidden = false; // signed out or the server is away: say so, keep trying
          }
        });
    }
    window.setInterval(refresh, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.querySelector("main[data-refresh]");
    if (main) {
      start(main);
    }
  });
})();
