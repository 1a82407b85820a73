// Replaces the status line: a test can tell the script ran from the DOM.
document.getElementById("status").textContent = "app.js ran: " + location.protocol + "//" + location.host;
