// Keeps the "2 days 4 h left" countdowns on the meetings page current without a reload.
// The server renders the first value; this only refreshes it once a minute. Served as a
// file because the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  function describe(ms) {
    if (ms <= 0) {
      return "deadline passed";
    }
    var minutes = Math.floor(ms / 60000);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    if (days > 0) {
      return days + (days === 1 ? " day " : " days ") + hours + " h left";
    }
    if (hours > 0) {
      return hours + " h " + (minutes % 60) + " min left";
    }
    return minutes + " min left";
  }

  function refresh() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (element) {
      var deadline = Date.parse(element.getAttribute("data-deadline"));
      if (!isNaN(deadline)) {
        element.textContent = describe(deadline - now);
        element.classList.toggle("passed", deadline <= now);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refresh();
    window.setInterval(refresh, 60000);
  });
})();
